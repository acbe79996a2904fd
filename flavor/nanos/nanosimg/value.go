// Package nanosimg writes bootable Nanos disk images: an MBR (or ops'
// boot.img), a klog dump area, a boot TFS filesystem holding the kernel and
// its klibs, and a root TFS filesystem holding the program's files and the
// manifest (the root tuple). It reads nothing but the host files it is told
// to copy and never runs ops or mkfs.
package nanosimg

// Value is a manifest value: a string, a Vector or a *Tuple. A []string is
// accepted as a shorthand for a Vector of strings.
type Value any

// Vector is an ordered list of manifest values (TFS vector).
type Vector []Value

// Tuple is an ordered map from symbol to Value; keys keep their insertion
// order, which is also the order they are encoded in. The zero Tuple is
// empty and ready to use.
type Tuple struct {
	keys []string
	vals map[string]Value
}

// NewTuple returns an empty tuple.
func NewTuple() *Tuple { return &Tuple{} }

// Set stores v under key. Setting an existing key replaces its value and
// keeps its position.
func (t *Tuple) Set(key string, v Value) {
	if t.vals == nil {
		t.vals = make(map[string]Value)
	}
	if _, ok := t.vals[key]; !ok {
		t.keys = append(t.keys, key)
	}
	t.vals[key] = v
}

// Get returns the value under key and whether it is present.
func (t *Tuple) Get(key string) (Value, bool) {
	v, ok := t.vals[key]
	return v, ok
}

// Delete removes key; deleting an absent key does nothing.
func (t *Tuple) Delete(key string) {
	if _, ok := t.vals[key]; !ok {
		return
	}
	delete(t.vals, key)
	for i, k := range t.keys {
		if k == key {
			t.keys = append(t.keys[:i:i], t.keys[i+1:]...)
			break
		}
	}
}

// Keys returns the keys in insertion order; the caller may modify the slice.
func (t *Tuple) Keys() []string { return append([]string(nil), t.keys...) }

// Len returns the number of entries.
func (t *Tuple) Len() int { return len(t.keys) }
