package app

import (
	"slices"
	"testing"

	"orderflow/commands/kafkabus"
)

// TestCausalStagesHoldEveryFamilyOnce: copying the topics for a replay
// takes every family, once, in the order of causes.
func TestCausalStagesHoldEveryFamilyOnce(t *testing.T) {
	var got []string
	for _, stage := range kafkabus.CausalStages() {
		got = append(got, stage...)
	}
	want := allFamilies()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the stages hold %v, want every family once: %v", got, want)
	}
}
