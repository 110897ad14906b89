package main

import (
	"fmt"
	"strings"
)

// withCommand prefixes err with the command's name, unless the message
// already starts with it: the train package's errors say "train: "
// themselves, and "train: train: ..." reads as a stutter.
func withCommand(name string, err error) error {
	if strings.HasPrefix(err.Error(), name+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}
