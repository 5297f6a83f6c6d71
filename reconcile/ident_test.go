package reconcile

import "testing"

// Names that joined with '-' read alike have different IDs, and every ID
// parses back to its identity.
func TestIdentIDIsUnambiguous(t *testing.T) {
	ids := []Ident{
		{"shop-web", "api", 1}, {"shop", "web-api", 1}, {"shop", "web", 1},
		{"shop", "web", 11}, {"shop", "web-1", 1}, {"shop-web-api", "x", 1},
		{"shop", "web.api", 2}, // service names may allow '.' one day
	}
	seen := map[string]Ident{}
	for _, id := range ids {
		s := id.ID()
		if other, ok := seen[s]; ok {
			t.Errorf("%+v and %+v share the ID %q", id, other, s)
		}
		seen[s] = id
		if back, ok := ParseID(s); !ok || back != id {
			t.Errorf("ParseID(%q) = %+v, %v; want %+v", s, back, ok, id)
		}
	}
	if got := (Ident{"shop-web", "api", 2}); got.ID() != "shop-web.api.2" || got.Name() != "api-2" || got.String() != "shop-web/api-2" {
		t.Errorf("ID %q Name %q String %q", got.ID(), got.Name(), got.String())
	}
	for _, s := range []string{"shop-web-api-1", "run-1a2b", "shop.web", ".web.1", "shop..1", "shop.web.0", "shop.web.01", "shop.web.x"} {
		if id, ok := ParseID(s); ok {
			t.Errorf("ParseID(%q) = %+v, want no replica identity", s, id)
		}
	}
}
