package manifest

import (
	"slices"
	"strings"
)

// Sorting a fleet's targets by name (builder.lone): names are read once,
// into 16-byte keys without pointers, which a radix sort orders.

// nameKey stands for the target b.members[i] in a sort by name: head holds
// the 8 bytes of the name from where the names sorted start to differ
// (after their longest common prefix), big-endian, padded with zeros. A
// name that is less has a head that is less or equal.
type nameKey struct {
	head uint64
	i    int32
}

// smallSort is the number of keys up to which sortByName compares names
// rather than heads.
const smallSort = 64

// sortByName sorts the keys by their targets' names, which share their
// first from bytes (tied: and were found equal over the 8 after). It fills
// the keys' heads, sorts them by radix, and sorts each run of equal heads
// in the same way, from where its names differ. scratch has room for the
// keys.
func (b *builder) sortByName(ks []nameKey, from int, tied bool, scratch []nameKey) {
	name := func(k nameKey) string { return b.members[k.i].Name }
	byName := func(p, q nameKey) int { return strings.Compare(name(p), name(q)) }
	if len(ks) <= smallSort {
		slices.SortFunc(ks, byName)
		return
	}
	// The names are read once (they are wherever they were allocated: a
	// cache miss each): to find where they start to differ, and for the
	// 16 bytes from where they are known not to, in ks and scratch.
	first := name(ks[0])
	common := len(first)
	for j := range ks {
		n := name(ks[j])
		common = min(common, len(n))
		for c := from; c < common; c++ {
			if n[c] != first[c] {
				common = c
				break
			}
		}
		ks[j].head, scratch[j].head = bytesAt(n, from), bytesAt(n, from+8)
	}
	if tied && common == from {
		// Equal heads, and nothing more in common: names padded with
		// zeros, "a" and "a\x00".
		slices.SortFunc(ks, byName)
		return
	}
	if skip := uint(common - from); skip <= 8 {
		for j := range ks {
			ks[j].head = ks[j].head<<(8*skip) | scratch[j].head>>(64-8*skip)
		}
	} else {
		for j := range ks {
			ks[j].head = bytesAt(name(ks[j]), common)
		}
	}
	sortByHead(ks, scratch)
	for j := 0; j < len(ks); {
		k := j + 1
		for k < len(ks) && ks[k].head == ks[j].head {
			k++
		}
		if k-j > 1 {
			b.sortByName(ks[j:k], common, true, scratch)
		}
		j = k
	}
}

// bytesAt returns the 8 bytes of s from i, big-endian, padded with zeros.
func bytesAt(s string, i int) uint64 {
	if i >= len(s) {
		return 0
	}
	if i+8 <= len(s) { // one load
		s = s[i : i+8]
		return uint64(s[7]) | uint64(s[6])<<8 | uint64(s[5])<<16 | uint64(s[4])<<24 |
			uint64(s[3])<<32 | uint64(s[2])<<40 | uint64(s[1])<<48 | uint64(s[0])<<56
	}
	var h uint64
	for c := i; c < i+8; c++ {
		h <<= 8
		if c < len(s) {
			h |= uint64(s[c])
		}
	}
	return h
}

// sortByHead sorts ks by head: a radix sort, a byte at a time from the
// least significant, that skips the bytes every head has the same.
// scratch has room for ks.
func sortByHead(ks, scratch []nameKey) {
	var count [8][256]int32
	for _, k := range ks {
		for d := range 8 {
			count[d][byte(k.head>>(8*d))]++
		}
	}
	src, dst := ks, scratch[:len(ks)]
	for d := range 8 {
		c := &count[d]
		if int(c[byte(src[0].head>>(8*d))]) == len(ks) {
			continue
		}
		at := int32(0)
		for v, n := range c {
			c[v] = at
			at += n
		}
		for _, k := range src {
			v := byte(k.head >> (8 * d))
			dst[c[v]] = k
			c[v]++
		}
		src, dst = dst, src
	}
	if &src[0] != &ks[0] {
		copy(ks, src)
	}
}
