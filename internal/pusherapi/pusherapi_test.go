package pusherapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"thinkgate/internal/clientid"
	"thinkgate/internal/hub"
	"thinkgate/internal/pusher"
)

func newAPI(t testing.TB, now time.Time) *API {
	t.Helper()
	ids, err := clientid.NewGenerator("127.0.0.1", 2900, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	apps := pusher.NewApps([]*pusher.App{{ID: "3", Key: "278d425bdf160c739803", Secret: "7ad3773142a6692b25b8"}})
	return New(Options{Apps: apps, Doer: hub.New(ids), Cache: &pusher.Cache{TTL: time.Minute},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
}

// Pusher's published example request (POST /apps/3/events at 1353088179),
// signed as its libraries sign it, is accepted; every part matters.
func TestSignedRequest(t *testing.T) {
	a := newAPI(t, time.Unix(1353088179, 0).Add(5*time.Minute))
	body := `{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}`
	query := "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f" +
		"&auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
	for _, tc := range []struct {
		name, query, body string
		status            int
		reply             string
	}{
		{"as signed", query, body, 200, "{}"},
		{"percent-encoded values (pusher-php-server)", strings.Replace(query, "version=1.0", "version=1%2E0", 1), body, 200, "{}"},
		{"another body", query, strings.Replace(body, "foo", "bar", 1), 401, "body_md5"},
		{"another signature", strings.Replace(query, "da4548", "da4549", 1), body, 401, "Invalid signature"},
		{"another key", strings.Replace(query, "auth_key=278d", "auth_key=378d", 1), body, 401, "auth_key"},
		{"no timestamp", strings.Replace(query, "auth_timestamp=1353088179&", "", 1), body, 401, "auth_timestamp"},
	} {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/apps/3/events?"+tc.query, strings.NewReader(tc.body)))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.reply) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, rec.Code, rec.Body.String(), tc.status, tc.reply)
		}
	}
	// Eleven minutes later the same request is stale.
	late := newAPI(t, time.Unix(1353088179, 0).Add(11*time.Minute))
	rec := httptest.NewRecorder()
	late.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/apps/3/events?"+query, strings.NewReader(body)))
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "Timestamp expired") {
		t.Fatalf("stale: %d %s", rec.Code, rec.Body.String())
	}
}

// webman/push's Api names app 1024 whatever the app: an unknown id with a
// known auth_key is that key's app, still checked against its secret.
func TestAppFoundByKey(t *testing.T) {
	a := newAPI(t, time.Unix(1353088179, 0))
	body := `{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}`
	query := "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f" +
		"&auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
	rec := httptest.NewRecorder()
	// Signed for /apps/3/events: under /apps/1024/ the signature no longer matches.
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/apps/1024/events?"+query, strings.NewReader(body)))
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), `POST\n/apps/1024/events`) {
		t.Fatalf("found by key, signed for another path: %d %s", rec.Code, rec.Body.String())
	}
	// Signed for the path it is sent to, with the app's secret: served.
	app := a.o.Apps.ByID("3")
	base := "auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f"
	sig := app.Sign("POST\n/apps/1024/events\n" + base)
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/apps/1024/events?"+base+"&auth_signature="+sig, strings.NewReader(body)))
	if rec.Code != 200 {
		t.Fatalf("webman/push's /apps/1024/ with the app's key and secret: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/apps/1024/events?auth_key=nope", strings.NewReader(body)))
	if rec.Code != 404 {
		t.Fatalf("unknown id and key: %d %s", rec.Code, rec.Body.String())
	}
}

func TestParseQueryKeepsSemicolons(t *testing.T) {
	q := parseQuery("filter_by_prefix=a;b&info=user_count%2Csubscription_count&x=1&x=2&bad=%zz")
	if q.Get("filter_by_prefix") != "a;b" || q.Get("info") != "user_count,subscription_count" || q.Get("x") != "1" || q.Get("bad") != "%zz" {
		t.Fatalf("%v", q)
	}
}

// FuzzAPI: any request to the API gets an answer, never a panic, and
// nothing unsigned gets past authentication.
func FuzzAPI(f *testing.F) {
	f.Add("POST", "/apps/3/events?auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0", `{"name":"x","channel":"a","data":"y"}`)
	f.Add("GET", "/apps/3/channels?filter_by_prefix=presence-&info=user_count", "")
	f.Add("POST", "/apps/3/batch_events", `{"batch":[{"channel":"a","name":"b","data":"c"}]}`)
	f.Add("GET", "/apps/3/channels/presence-x/users", "")
	f.Fuzz(func(t *testing.T, method, target, body string) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") || method == "" || strings.ContainsAny(method, " \r\n/") {
			return
		}
		req, err := http.NewRequest(method, "http://x"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		a := newAPI(t, time.Unix(1353088179, 0))
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		if rec.Code == 200 {
			t.Fatalf("%s %s %q: 200 without a valid signature: %s", method, target, body, rec.Body.String())
		}
	})
}
