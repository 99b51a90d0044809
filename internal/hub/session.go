package hub

// cloneMap deep-copies a JSON object so callers never share session state.
func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}

// replaceRecursive merges update into old the way PHP's
// array_replace_recursive does (GatewayWorker's updateSession): where both
// sides hold an object, or both a list, it recurses key by key (index by index
// for lists); anywhere else the update's value wins. old is modified and
// returned; update is not retained.
func replaceRecursive(old, update map[string]any) map[string]any {
	if old == nil {
		return cloneMap(update)
	}
	for k, nv := range update {
		old[k] = replaceValue(old[k], nv)
	}
	return old
}

func replaceValue(ov, nv any) any {
	switch n := nv.(type) {
	case map[string]any:
		if o, ok := ov.(map[string]any); ok {
			return replaceRecursive(o, n)
		}
	case []any:
		if o, ok := ov.([]any); ok {
			out := cloneValue(o).([]any)
			for i, e := range n {
				if i < len(out) {
					out[i] = replaceValue(out[i], e)
				} else {
					out = append(out, cloneValue(e))
				}
			}
			return out
		}
	}
	return cloneValue(nv)
}
