package answer

import (
	"bytes"
	"strconv"
	"strings"

	"keyway.dev/dataplane/resp"
)

// OwnSections are the sections the proxy writes when the upstream's
// INFO is not available, in Redis's order.
var OwnSections = []string{"server", "clients", "cluster", "keyway"}

// AppendInfo appends INFO's reply with text: the verbatim string Redis
// sends a RESP3 client when verbatim is set, else a bulk string.
func AppendInfo(b []byte, text string, verbatim bool) []byte {
	if !verbatim {
		return resp.AppendBulkString(b, text)
	}
	b = append(b, '=')
	b = strconv.AppendInt(b, int64(len(text)+4), 10)
	b = append(b, "\r\ntxt:"...)
	b = append(b, text...)
	return append(b, '\r', '\n')
}

// InfoText reads INFO's reply: a bulk string, or the verbatim string
// Redis sends a RESP3 client.
func InfoText(raw []byte) (text string, verbatim, ok bool) {
	if len(raw) == 0 || (raw[0] != '$' && raw[0] != '=') {
		return "", false, false
	}
	nl := bytes.Index(raw, []byte("\r\n"))
	if nl < 0 {
		return "", false, false
	}
	n, err := strconv.Atoi(string(raw[1:nl]))
	if err != nil || n < 0 || nl+2+n > len(raw) {
		return "", false, false
	}
	body := raw[nl+2 : nl+2+n]
	if raw[0] == '=' {
		if len(body) < 4 {
			return "", false, false
		}
		body = body[4:] // "txt:"
	}
	return string(body), raw[0] == '=', true
}

// SectionTitle is how Redis capitalises a section's header.
func SectionTitle(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
