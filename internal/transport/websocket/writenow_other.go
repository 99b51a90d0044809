//go:build !linux

package websocket

// writeNow has no non-blocking fast path here: everything goes through the
// connection's writer goroutine.
func (c *conn) writeNow(b []byte) (int, error) { return 0, nil }
