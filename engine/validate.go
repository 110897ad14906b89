package engine

/*
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"strings"
	"sync"
)

// ValidationMessage is one message of the validation layer (or the
// driver) received through VK_EXT_debug_utils.
type ValidationMessage struct {
	Severity string // "warning" or "error"
	ID       string
	Text     string
}

func (m ValidationMessage) String() string { return m.Severity + " " + m.ID + ": " + m.Text }

// messageSink collects messages; the C callback reaches it through a
// cgo.Handle so no Go pointer is kept by C.
type messageSink struct {
	mu   sync.Mutex
	msgs []ValidationMessage
}

func (s *messageSink) add(m ValidationMessage) {
	s.mu.Lock()
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
}

// take returns the messages collected so far and clears the list.
func (s *messageSink) take() []ValidationMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.msgs
	s.msgs = nil
	return out
}

//export nfvkGoDebugMessage
func nfvkGoDebugMessage(handle C.uintptr_t, severity C.int, types C.int, id *C.char, msg *C.char) {
	sink, ok := cgo.Handle(handle).Value().(*messageSink)
	if !ok {
		return
	}
	sev := "warning"
	if severity&C.VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT != 0 {
		sev = "error"
	}
	sink.add(ValidationMessage{Severity: sev, ID: C.GoString(id), Text: C.GoString(msg)})
}

// ValidationMessages returns (and clears) the validation messages received
// since the last call. Empty when validation is off.
func (d *Device) ValidationMessages() []ValidationMessage {
	if d.sink == nil {
		return nil
	}
	return d.sink.take()
}

// ValidationEnabled reports whether VK_LAYER_KHRONOS_validation is active.
func (d *Device) ValidationEnabled() bool { return d.messenger != nil }

// ValidationError returns an error listing msgs, or nil if there are none.
func ValidationError(msgs []ValidationMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d validation message(s):", len(msgs))
	for i, m := range msgs {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... %d more", len(msgs)-10)
			break
		}
		b.WriteString("\n  " + m.String())
	}
	return fmt.Errorf("%s", b.String())
}
