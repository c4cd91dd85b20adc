package frontend

// clientByID finds a client of this server by its CLIENT ID.
func (s *Server) clientByID(id uint64) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		if c.sess.ID == id {
			return c
		}
	}
	return nil
}
