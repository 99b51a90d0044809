package pusher

import "testing"

// FuzzSocketID: any string either is refused or maps to a client_id that
// maps back to it (socket ids come from the HTTP API's socket_id).
func FuzzSocketID(f *testing.F) {
	for _, s := range []string{"1.2", "139637976795988.3291739329", "281474976710655.4294967295", "01.2", "1.2.3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ClientID(s)
		if err != nil {
			return
		}
		back, err := ClientID(SocketID(id))
		if err != nil || back != id {
			t.Fatalf("%q -> %s -> %q -> %s", s, id, SocketID(id), back)
		}
	})
}
