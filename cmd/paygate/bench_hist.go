package main

import (
	"math/bits"
	"time"
)

// histSubBits is the precision of histogram: 2^histSubBits buckets per
// power of two, so a recorded value is off by less than 1/128 (0.8 %).
const histSubBits = 7

// histBuckets covers every int64 nanosecond value.
const histBuckets = (65 - histSubBits) << histSubBits

// histogram is an HDR-style log-bucketed latency histogram: exact below
// 256 ns, then 128 linear buckets per power of two. Recording is O(1) and
// its size is fixed (about 58 KiB) whatever the count. Not safe for
// concurrent use.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
	sum    time.Duration
}

func histIndex(v uint64) int {
	e := bits.Len64(v)
	if e <= histSubBits+1 {
		return int(v)
	}
	shift := e - histSubBits - 1
	return shift<<histSubBits + int(v>>shift)
}

// histUpper is the largest value that falls in bucket i.
func histUpper(i int) uint64 {
	if i < 2<<histSubBits {
		return uint64(i)
	}
	shift := i>>histSubBits - 1
	m := uint64(i&(1<<histSubBits-1) + 1<<histSubBits)
	return (m+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile is the smallest bucket bound at or above the q-quantile
// (nearest rank), never above the largest value recorded.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) || rank == 0 {
		rank++
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(histUpper(i)), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
