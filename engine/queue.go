package engine

import (
	"fmt"
	"strings"
)

// QueueFamily is one queue family of a device.
type QueueFamily struct {
	Index              int
	Queues             uint32
	Graphics, Compute  bool
	Transfer           bool
	TimestampValidBits uint32
}

func (q QueueFamily) String() string {
	var caps []string
	for _, c := range []struct {
		ok   bool
		name string
	}{{q.Graphics, "graphics"}, {q.Compute, "compute"}, {q.Transfer, "transfer"}} {
		if c.ok {
			caps = append(caps, c.name)
		}
	}
	return fmt.Sprintf("family %d (%s, %d queue(s), %d timestamp bits)", q.Index, strings.Join(caps, "+"), q.Queues, q.TimestampValidBits)
}

// chooseQueueFamily picks the queue nfvk submits to: a compute-only
// family where one exists (AMD, NVIDIA: async compute queues, which do
// not compete with the desktop's graphics queue), else a graphics and
// compute family; among equals, one with timestamps (profiling), then the
// first listed.
func chooseQueueFamily(fams []QueueFamily) (int, error) {
	best, score := -1, -1
	for i, q := range fams {
		if !q.Compute || q.Queues == 0 {
			continue
		}
		s := 0
		if !q.Graphics {
			s += 2
		}
		if q.TimestampValidBits > 0 {
			s++
		}
		if s > score {
			best, score = i, s
		}
	}
	if best < 0 {
		return -1, fmt.Errorf("no queue family supports compute (families: %v)", fams)
	}
	return best, nil
}
