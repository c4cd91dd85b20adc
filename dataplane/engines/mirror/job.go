package mirror

import (
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// job is one copy on its way to the shadow. Jobs are pooled with their
// buffers, so a steady mirror allocates nothing per request.
type job struct {
	req  engine.Request
	args [][]byte
	buf  []byte
	spec *resp.Spec
	sess engine.Session
	// want is the primary's reply, kept when comparing.
	want []byte
}

var jobs = sync.Pool{New: func() any { return new(job) }}

// fill copies what the shadow needs from r: the arguments into one
// buffer, the session by value (the server may reuse it after the
// connection closes) and, when comparing, the primary's reply.
func (j *job) fill(r *engine.Request, compare bool) {
	n := 0
	for _, a := range r.Cmd.Args {
		n += len(a)
	}
	if cap(j.buf) < n {
		j.buf = make([]byte, 0, n)
	}
	// The buffer is sized first, so the slices below never see it move.
	j.buf = j.buf[:0]
	j.args = j.args[:0]
	for _, a := range r.Cmd.Args {
		off := len(j.buf)
		j.buf = append(j.buf, a...)
		j.args = append(j.args, j.buf[off:len(j.buf):len(j.buf)])
	}
	j.spec = r.Cmd.Spec
	j.sess = engine.Session{}
	if r.Session != nil {
		j.sess = *r.Session
	}
	j.want = j.want[:0]
	if compare {
		j.want = append(j.want, r.Raw()...)
	}
}

// request readies j's request for the shadow.
func (j *job) request() *engine.Request {
	r := &j.req
	r.Reset()
	r.Cmd.Args = j.args
	r.Cmd.Spec = j.spec
	r.Session = &j.sess
	return r
}
