package slots

import (
	"math/bits"
	"slices"
	"time"
)

// packedKey is a slotKey packed into one integer that orders as
// compareKeys does: from the high bits, the start (in units from the
// earliest start), the motif rank, the lieu rank, the agent rank, each in
// as many bits as the search needs. A radix sort of these is linear in the
// number of candidates, where comparing 24-byte keys bucket by bucket spent
// most of its time in buckets of hundreds of keys sharing their start (a
// national "élargir" offers 09:00 on Monday in hundreds of lieux).
type packedKey struct {
	key  uint64
	item uint32
}

// packing is how a search's keys are packed.
type packing struct {
	lo, unit                                   int64
	startShift, motifShift, lieuShift, keyBits uint
}

// pack chooses a packing for keys: starts counted in minutes or seconds
// from the earliest (whichever divides every difference), ranks in the
// bits their largest value needs. False when the keys need more than 64
// bits (starts off the second, a window too wide for the ranks).
func pack(keys []slotKey) (packing, bool) {
	const minute, second = int64(time.Minute), int64(time.Second)
	first := keys[0].start
	lo, hi := first, first
	var offMinute, offSecond bool
	var motifs, lieux, agents uint64
	for _, k := range keys {
		lo, hi = min(lo, k.start), max(hi, k.start)
		d := k.start - first
		offMinute = offMinute || d%minute != 0
		offSecond = offSecond || d%second != 0
		motifs |= k.motifLieu >> 32
		lieux |= k.motifLieu & (1<<32 - 1)
		agents |= uint64(k.agent)
	}
	p := packing{lo: lo, unit: minute}
	switch {
	case !offMinute:
	case !offSecond:
		p.unit = second
	default:
		return p, false
	}
	p.lieuShift = uint(bits.Len64(agents))
	p.motifShift = p.lieuShift + uint(bits.Len64(lieux))
	p.startShift = p.motifShift + uint(bits.Len64(motifs))
	p.keyBits = p.startShift + uint(bits.Len64(uint64((hi-lo)/p.unit)))
	return p, p.keyBits <= 64
}

func (p *packing) pack(k slotKey) uint64 {
	return uint64((k.start-p.lo)/p.unit)<<p.startShift | (k.motifLieu>>32)<<p.motifShift |
		(k.motifLieu&(1<<32-1))<<p.lieuShift | uint64(k.agent)
}

func (p *packing) start(k uint64) int64 {
	return p.lo + int64(k>>p.startShift)*p.unit
}

// radixSort sorts keys by key (a stable LSD radix sort, digits of at
// most 11 bits, passes whose digit is the same for every key skipped),
// using spare (as long as keys) and counts as buffers. It returns the
// sorted slice, keys or spare, and the other.
func radixSort(keys, spare []packedKey, keyBits uint, counts []int32) (sorted, other []packedKey, _ []int32) {
	if keyBits == 0 || len(keys) < 2 {
		return keys, spare, counts
	}
	passes := (keyBits + 10) / 11
	width := (keyBits + passes - 1) / passes
	size := 1 << width
	mask := uint64(size - 1)
	counts = slices.Grow(counts[:0], int(passes)*size)[:int(passes)*size]
	clear(counts)
	for _, k := range keys {
		for p := range passes {
			counts[int(p)*size+int(k.key>>(p*width)&mask)]++
		}
	}
	n := int32(len(keys))
	for p := range passes {
		c := counts[int(p)*size : int(p+1)*size]
		if c[keys[0].key>>(p*width)&mask] == n {
			continue // one digit for all: the order stays
		}
		// Offsets of each digit's keys in the output.
		sum := int32(0)
		for i, x := range c {
			c[i] = sum
			sum += x
		}
		shift := p * width
		for _, k := range keys {
			d := k.key >> shift & mask
			spare[c[d]] = k
			c[d]++
		}
		keys, spare = spare, keys
	}
	return keys, spare, counts
}

// finishPacked is finish through packed keys; false when they do not fit
// (finish then compares them).
func (s *searcher) finishPacked(agentView bool) ([]Slot, bool) {
	p, ok := pack(s.keys)
	if !ok {
		return nil, false
	}
	n := len(s.keys)
	packed := slices.Grow(s.packed[:0], n)[:n]
	for i, k := range s.keys {
		packed[i] = packedKey{key: p.pack(k), item: k.item}
	}
	spare := slices.Grow(s.packedSpare[:0], n)[:n]
	packed, spare, s.counts = radixSort(packed, spare, p.keyBits, s.counts)
	s.packed, s.packedSpare = packed, spare
	// Equal keys are one slot (several agents in the public view): count
	// the distinct ones to allocate the result once.
	distinct := 1
	for i := 1; i < n; i++ {
		if packed[i].key != packed[i-1].key {
			distinct++
		}
	}
	out := make([]Slot, distinct)
	j := 0
	for i, k := range packed {
		if i > 0 && k.key == packed[i-1].key {
			continue
		}
		r := &s.refs[k.item]
		start := time.Unix(0, p.start(k.key)).In(r.loc)
		sl := &out[j]
		sl.Start, sl.End, sl.Motif, sl.Lieu = start, start.Add(r.duration), r.motif, r.lieu
		if agentView {
			sl.Agent = r.agent
		}
		j++
	}
	return out, true
}
