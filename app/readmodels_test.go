package app

import (
	"slices"
	"testing"

	"orderflow/commands"
	"orderflow/projections"
)

// TestReadModelsAreDeclared keeps the contexts' read models and the
// projections in step: every name a context declares is a projection, and
// the API serves them all.
func TestReadModelsAreDeclared(t *testing.T) {
	var all []string
	for _, d := range projections.All() {
		all = append(all, d.Name)
	}
	for _, c := range commands.Declared() {
		for _, name := range c.ReadModels {
			if !slices.Contains(all, name) {
				t.Errorf("%s declares the read model %q, which is no projection", c.Name, name)
			}
		}
	}
	api := slices.Clone(commands.Lookup(commands.ContextAPI).ReadModels)
	slices.Sort(api)
	slices.Sort(all)
	if !slices.Equal(api, all) {
		t.Errorf("the API serves %v; the projections are %v", api, all)
	}
	tests := []struct {
		contexts []string
		want     []string
	}{
		{[]string{"inventory"}, []string{"products"}},
		{[]string{"orders"}, []string{"deadlines", "products"}},
		{[]string{"fraud", "customercheck", "notifications"}, []string{"products"}},
		{[]string{"api", "orders", "catalog", "customers", "payments"}, all},
	}
	for _, tt := range tests {
		cfg := Config{Transport: "kafka", Contexts: tt.contexts}
		var got []string
		for _, d := range readModels(cfg) {
			got = append(got, d.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("readModels(%v) = %v, want %v", tt.contexts, got, tt.want)
		}
	}
}
