// Package pusherapi is the Pusher Channels HTTP API (the part backends
// use: pusher-php-server, Laravel's pusher broadcaster, the pusher Node
// library), served on the api listener under /apps/{id}/. Every request is
// signed with the app's secret as Pusher signs them; what it asks becomes
// hub commands on the whole gateway.
package pusherapi

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"thinkgate/internal/hub"
	"thinkgate/internal/pusher"
)

// Options configure the API.
type Options struct {
	Apps        *pusher.Apps
	Doer        hub.Doer
	Cache       *pusher.Cache
	MaxBodySize int64 // bytes
	Log         *slog.Logger
	Now         func() time.Time // nil: time.Now
}

// API serves /apps/{id}/....
type API struct{ o Options }

// New returns the API.
func New(o Options) *API {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &API{o: o}
}

// MaxTimestampSkew is how far auth_timestamp may be from the server's clock.
const MaxTimestampSkew = 600 * time.Second

// Limits Pusher applies to one publish, kept here.
const (
	maxChannels   = 100
	maxBatch      = 10
	maxEventName  = 200
	maxSocketIDLn = 64
)

// apiError is an error reply: Pusher answers errors as text.
type apiError struct {
	status int
	msg    string
}

func errorf(status int, format string, a ...any) *apiError {
	return &apiError{status, fmt.Sprintf(format, a...)}
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res, e := a.serve(r)
	if e != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(e.status)
		io.WriteString(w, e.msg+"\n")
		return
	}
	b, _ := json.Marshal(res)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (a *API) serve(r *http.Request) (any, *apiError) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/apps/")
	if !ok {
		return nil, errorf(404, "not found")
	}
	id, rest, _ := strings.Cut(rest, "/")
	q := parseQuery(r.URL.RawQuery)
	app := a.o.Apps.ByID(id)
	if app == nil {
		// webman/push's Api always names app 1024 and its server finds the
		// app by auth_key; the signature below still proves the secret.
		if app = a.o.Apps.ByKey(q.Get("auth_key")); app == nil {
			return nil, errorf(404, "Unknown app id %q", id)
		}
	}
	body, e := a.readBody(r)
	if e != nil {
		return nil, e
	}
	if e := a.authenticate(app, r, q, body); e != nil {
		return nil, e
	}
	parts := strings.Split(rest, "/")
	switch {
	case r.Method == http.MethodPost && rest == "events":
		return a.events(app, body)
	case r.Method == http.MethodPost && rest == "batch_events":
		return a.batchEvents(app, body)
	case r.Method == http.MethodGet && rest == "channels":
		return a.channels(app, q)
	case r.Method == http.MethodGet && len(parts) == 2 && parts[0] == "channels":
		return a.channel(app, parts[1], q)
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "channels" && parts[2] == "users":
		return a.users(app, parts[1])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "users" && parts[2] == "terminate_connections":
		return a.terminate(app, parts[1])
	}
	return nil, errorf(404, "No such endpoint: %s %s", r.Method, r.URL.Path)
}

func (a *API) readBody(r *http.Request) ([]byte, *apiError) {
	if r.Body == nil {
		return nil, nil
	}
	limit := a.o.MaxBodySize
	if limit <= 0 {
		limit = 4 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, errorf(400, "reading the body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, errorf(413, "Request body over %d bytes (api.max_body_size)", limit)
	}
	return body, nil
}

// authenticate checks Pusher's request signature: auth_key is the app's,
// auth_timestamp within MaxTimestampSkew, body_md5 the body's, and
// auth_signature the HMAC-SHA256 of "METHOD\nPATH\nQUERY" where QUERY is
// every other parameter, keys lower-cased, sorted, joined by &.
func (a *API) authenticate(app *pusher.App, r *http.Request, q query, body []byte) *apiError {
	if q.Get("auth_key") != app.Key {
		return errorf(401, "Unknown auth_key")
	}
	ts, err := strconv.ParseInt(q.Get("auth_timestamp"), 10, 64)
	if err != nil {
		return errorf(401, "auth_timestamp missing or not a number")
	}
	if skew := a.o.Now().Sub(time.Unix(ts, 0)); skew > MaxTimestampSkew || skew < -MaxTimestampSkew {
		return errorf(401, "Timestamp expired: given %d, server time %d; more than %d s apart", ts, a.o.Now().Unix(), int(MaxTimestampSkew/time.Second))
	}
	if v := q.Get("auth_version"); v != "" && v != "1.0" {
		return errorf(401, "Unsupported auth_version %q", v)
	}
	if len(body) > 0 {
		sum := md5.Sum(body)
		if q.Get("body_md5") != hex.EncodeToString(sum[:]) {
			return errorf(401, "body_md5 does not match the body")
		}
	}
	keys := make([]string, 0, len(q))
	params := map[string]string{}
	for k, v := range q {
		lk := strings.ToLower(k)
		if lk == "auth_signature" {
			continue
		}
		keys = append(keys, lk)
		params[lk] = v
	}
	sort.Strings(keys)
	var qs strings.Builder
	for i, k := range keys {
		if i > 0 {
			qs.WriteByte('&')
		}
		qs.WriteString(k + "=" + params[k])
	}
	toSign := r.Method + "\n" + r.URL.Path + "\n" + qs.String()
	if !app.VerifyAuth(app.Key+":"+q.Get("auth_signature"), toSign) {
		return errorf(401, "Invalid signature: you should have sent HmacSHA256Hex(%q, your_secret)", toSign)
	}
	return nil
}

// query is a request's parameters, decoded, the first value of each.
// Go's url.ParseQuery drops pairs holding ';', which channel names may hold
// (filter_by_prefix), so the query is split here on '&' only.
type query map[string]string

func parseQuery(raw string) query {
	q := query{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		if _, seen := q[k]; !seen {
			q[k] = v
		}
	}
	return q
}

// Get is the value of k, or "".
func (q query) Get(k string) string { return q[k] }

// event is one publish.
type event struct {
	Name     string   `json:"name"`
	Data     *string  `json:"data"`
	Channels []string `json:"channels"`
	Channel  string   `json:"channel"`
	SocketID string   `json:"socket_id"`
	Info     string   `json:"info"`
}

func (a *API) events(app *pusher.App, body []byte) (any, *apiError) {
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, errorf(400, "The body must be a JSON object: %v", err)
	}
	if ev.Channel != "" {
		ev.Channels = append(ev.Channels, ev.Channel)
	}
	if len(ev.Channels) > maxChannels {
		return nil, errorf(400, "More than %d channels in one event", maxChannels)
	}
	info, e := a.publish(app, &ev)
	if e != nil {
		return nil, e
	}
	if info == nil {
		return struct{}{}, nil
	}
	return map[string]any{"channels": info}, nil
}

func (a *API) batchEvents(app *pusher.App, body []byte) (any, *apiError) {
	var b struct {
		Batch []event `json:"batch"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, errorf(400, "The body must be a JSON object with a batch: %v", err)
	}
	if len(b.Batch) > maxBatch {
		return nil, errorf(400, "More than %d events in one batch", maxBatch)
	}
	for i := range b.Batch { // all checked before any is sent
		if e := check(&b.Batch[i]); e != nil {
			return nil, errorf(e.status, "batch[%d]: %s", i, e.msg)
		}
	}
	var infos []any
	for i := range b.Batch {
		ev := &b.Batch[i]
		if ev.Channel != "" && len(ev.Channels) == 0 {
			ev.Channels = []string{ev.Channel}
		}
		info, e := a.publish(app, ev)
		if e != nil {
			return nil, e
		}
		if info != nil {
			infos = append(infos, info[ev.Channels[0]])
		} else {
			infos = append(infos, struct{}{})
		}
	}
	if slices.ContainsFunc(b.Batch, func(e event) bool { return e.Info != "" }) {
		return map[string]any{"batch": infos}, nil
	}
	return struct{}{}, nil
}

// check validates one event before anything is sent.
func check(ev *event) *apiError {
	chans := ev.Channels
	if ev.Channel != "" {
		chans = append(slices.Clone(chans), ev.Channel)
	}
	switch {
	case ev.Name == "" || len(ev.Name) > maxEventName:
		return errorf(400, "An event needs a name of 1-%d characters", maxEventName)
	case ev.Data == nil:
		return errorf(400, "An event needs data (a string)")
	case len(chans) == 0:
		return errorf(400, "An event needs channels (or channel)")
	case len(ev.SocketID) > maxSocketIDLn:
		return errorf(400, "Invalid socket_id")
	}
	for _, ch := range chans {
		if !pusher.ValidChannel(ch) {
			return errorf(400, "Invalid channel name %q", ch)
		}
		if pusher.KindOf(ch).Encrypted && len(chans) > 1 {
			return errorf(400, "An event to a private-encrypted- channel must go to that channel only")
		}
	}
	return nil
}

// publish sends ev to each of its channels and returns the info asked for.
func (a *API) publish(app *pusher.App, ev *event) (map[string]any, *apiError) {
	if e := check(ev); e != nil {
		return nil, e
	}
	var exclude []string
	if ev.SocketID != "" {
		id, err := pusher.ClientID(ev.SocketID)
		if err != nil {
			return nil, errorf(400, "%v", err)
		}
		exclude = []string{id}
	}
	data, _ := json.Marshal(*ev.Data)
	now := a.o.Now()
	for _, ch := range ev.Channels {
		group := app.Group(ch)
		cmd := &hub.Command{Op: hub.OpSendToGroup, Groups: []string{group}, Exclude: exclude,
			Message: &hub.Message{Event: ev.Name, Channel: group, Data: data}}
		if user, ok := strings.CutPrefix(ch, pusher.UserChannelPrefix); ok { // sendToUser: the user's uid
			cmd = &hub.Command{Op: hub.OpSendToUid, UIDs: []string{app.UID(user)}, Message: &hub.Message{Event: ev.Name, Channel: ch, Data: data}}
		}
		if _, err := a.o.Doer.Do(cmd); err != nil {
			return nil, errorf(503, "%v", err)
		}
		if pusher.KindOf(ch).Cache && a.o.Cache != nil {
			a.o.Cache.Put(group, ev.Name, data, now)
		}
	}
	if ev.Info == "" {
		return nil, nil
	}
	info := map[string]any{}
	for _, ch := range ev.Channels {
		v, e := a.info(app, ch, ev.Info)
		if e != nil {
			return nil, e
		}
		info[ch] = v
	}
	return info, nil
}

// info returns the attributes named in list (user_count, subscription_count)
// of one channel.
func (a *API) info(app *pusher.App, ch, list string) (map[string]any, *apiError) {
	out := map[string]any{}
	group := app.Group(ch)
	for _, attr := range strings.Split(list, ",") {
		switch strings.TrimSpace(attr) {
		case "":
		case "subscription_count":
			n, err := a.o.Doer.Do(&hub.Command{Op: hub.OpGetClientIdCountByGroup, Groups: []string{group}})
			if err != nil {
				return nil, errorf(503, "%v", err)
			}
			out["subscription_count"] = n
		case "cache":
			if !pusher.KindOf(ch).Cache {
				return nil, errorf(400, "cache is only available for cache channels")
			}
			out["cache"] = nil
			if a.o.Cache != nil {
				if _, data, ttl, ok := a.o.Cache.Peek(group, a.o.Now()); ok {
					var s string
					if json.Unmarshal(data, &s) != nil {
						s = string(data)
					}
					out["cache"] = map[string]any{"data": s, "ttl": int(ttl / time.Second)}
				}
			}
		case "user_count":
			if !pusher.KindOf(ch).Presence {
				return nil, errorf(400, "user_count is only available for presence- channels")
			}
			users, e := a.userIDs(group)
			if e != nil {
				return nil, e
			}
			out["user_count"] = len(users)
		default:
			return nil, errorf(400, "Unknown info attribute %q", attr)
		}
	}
	return out, nil
}

// userIDs are the distinct user ids of a presence channel.
func (a *API) userIDs(group string) ([]string, *apiError) {
	res, err := a.o.Doer.Do(&hub.Command{Op: hub.OpGetPresenceMembers, Groups: []string{group}})
	if err != nil {
		return nil, errorf(503, "%v", err)
	}
	recs, _ := res.(map[string]hub.Session)
	var ids []string
	for _, rec := range recs {
		var d struct {
			UserID string `json:"user_id"`
		}
		if json.Unmarshal(rec, &d) == nil && d.UserID != "" {
			ids = append(ids, d.UserID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

func (a *API) channels(app *pusher.App, q query) (any, *apiError) {
	prefix, list := q.Get("filter_by_prefix"), q.Get("info")
	if strings.Contains(list, "user_count") && !strings.HasPrefix(prefix, "presence-") {
		return nil, errorf(400, "info=user_count needs filter_by_prefix=presence-")
	}
	res, err := a.o.Doer.Do(&hub.Command{Op: hub.OpGetAllGroupIdList})
	if err != nil {
		return nil, errorf(503, "%v", err)
	}
	groups, _ := res.([]string)
	out := map[string]any{}
	for _, g := range groups {
		ch, ok := app.Owns(g)
		if !ok || !strings.HasPrefix(ch, prefix) {
			continue
		}
		v, e := a.info(app, ch, list)
		if e != nil {
			return nil, e
		}
		out[ch] = v
	}
	return map[string]any{"channels": out}, nil
}

func (a *API) channel(app *pusher.App, ch string, q query) (any, *apiError) {
	if !pusher.ValidChannel(ch) {
		return nil, errorf(400, "Invalid channel name %q", ch)
	}
	n, err := a.o.Doer.Do(&hub.Command{Op: hub.OpGetClientIdCountByGroup, Groups: []string{app.Group(ch)}})
	if err != nil {
		return nil, errorf(503, "%v", err)
	}
	v, e := a.info(app, ch, q.Get("info"))
	if e != nil {
		return nil, e
	}
	v["occupied"] = n != 0
	return v, nil
}

func (a *API) users(app *pusher.App, ch string) (any, *apiError) {
	if !pusher.KindOf(ch).Presence || !pusher.ValidChannel(ch) {
		return nil, errorf(400, "users are only available for presence- channels")
	}
	ids, e := a.userIDs(app.Group(ch))
	if e != nil {
		return nil, e
	}
	users := make([]map[string]string, 0, len(ids))
	for _, id := range ids {
		users = append(users, map[string]string{"id": id})
	}
	return map[string]any{"users": users}, nil
}

// terminate closes every connection of a signed-in user, each told why
// first (pusher:error 4009, the code it is closed with).
func (a *API) terminate(app *pusher.App, user string) (any, *apiError) {
	if user == "" {
		return nil, errorf(400, "A user id is required")
	}
	res, err := a.o.Doer.Do(&hub.Command{Op: hub.OpGetClientIdByUid, UIDs: []string{app.UID(user)}})
	if err != nil {
		return nil, errorf(503, "%v", err)
	}
	ids, _ := res.([]string)
	msg := &hub.Message{Event: "pusher:error", Data: []byte(`{"code":4009,"message":"Connection terminated by the server (terminate_connections)"}`)}
	for _, id := range ids {
		if _, err := a.o.Doer.Do(&hub.Command{Op: hub.OpCloseClient, ClientID: id, Message: msg, Code: 4009}); err != nil {
			return nil, errorf(503, "%v", err)
		}
	}
	return struct{}{}, nil
}
