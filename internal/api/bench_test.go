package api

import "testing"

// BenchmarkCallSendToUid is the API's decode + dispatch cost for one push,
// without HTTP.
func BenchmarkCallSendToUid(b *testing.B) {
	h, id := fuzzHub(b)
	Call(h, "bindUid", []byte(`{"client_id":"`+id+`","uid":"u1"}`))
	body := []byte(`{"uid":"u1","data":{"type":"order","id":7,"percent":"88%"}}`)
	b.ReportAllocs()
	for range b.N {
		if _, err := Call(h, "sendToUid", body); err != nil {
			b.Fatal(err)
		}
	}
}
