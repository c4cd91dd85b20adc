package answer

import (
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
)

// clientArity is Redis's arity of the CLIENT subcommands the proxy
// answers, the container name counted.
var clientArity = map[string]int{
	"ID": 2, "GETNAME": 2, "SETNAME": 3, "INFO": 2, "LIST": -2,
	"SETINFO": 4, "NO-EVICT": 3, "NO-TOUCH": 3, "HELP": 2,
	"TRACKING": -3, "CACHING": 3, "GETREDIR": 2, "TRACKINGINFO": 2, "REPLY": 3,
	"UNBLOCK": -3,
}

// ClientArity is Redis's error for CLIENT sub (upper case) called with
// n arguments, the container name counted, or "" when n is right or sub
// is not one the proxy answers.
func ClientArity(sub string, n int) string {
	want, ok := clientArity[sub]
	if !ok || (want > 0 && n == want) || (want < 0 && n >= -want) {
		return ""
	}
	return ArityError("client|" + strings.ToLower(sub))
}

var clientHelp = []string{
	"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"GETNAME", "    Return the name of the current connection.",
	"ID", "    Return the ID of the current connection.",
	"INFO", "    Return information about the current client connection.",
	"LIST", "    Return information about client connections of this proxy.",
	"SETNAME <name>", "    Assign the name <name> to the current connection.",
	"SETINFO <LIB-NAME|LIB-VER> <value>", "    Record the client library's name or version.",
	"REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
	"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]",
	"    Control server assisted client side caching.",
	"CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
	"GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
	"UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
	"TRACKINGINFO", "    Report tracking status for the current connection.",
	"HELP", "    Print this help.",
}

// AppendClientHelp appends CLIENT HELP's reply, the subcommands the proxy
// answers.
func AppendClientHelp(b []byte) []byte {
	b = redcon.AppendArray(b, len(clientHelp))
	for _, l := range clientHelp {
		b = redcon.AppendString(b, l)
	}
	return b
}

// ValidName reports whether b may be a connection name or a library's
// name or version: printable ASCII without spaces, as Redis requires.
func ValidName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

// ClientLine is a connection in CLIENT LIST's format, with the fields
// the proxy knows and its own domain and listener at the end: sess with
// its library's name and version, laddr the proxy's end of the socket,
// age how long it has been open.
func ClientLine(sess engine.Session, lib, ver, laddr string, age time.Duration) string {
	user := sess.User
	if user == "" {
		user = "default"
	}
	var b strings.Builder
	b.WriteString("id=" + strconv.FormatUint(sess.ID, 10))
	b.WriteString(" addr=" + sess.Addr)
	b.WriteString(" laddr=" + laddr)
	b.WriteString(" fd=-1 name=" + sess.Name)
	b.WriteString(" age=" + strconv.FormatInt(int64(age/time.Second), 10))
	b.WriteString(" idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r")
	b.WriteString(" cmd=NULL")
	b.WriteString(" user=" + user)
	b.WriteString(" redir=-1 resp=" + strconv.Itoa(int(max(sess.Proto, 2))))
	b.WriteString(" lib-name=" + lib + " lib-ver=" + ver)
	b.WriteString(" domain=" + sess.Domain + " listener=" + sess.Listener)
	return b.String()
}
