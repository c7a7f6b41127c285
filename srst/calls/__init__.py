"""Call control: lines, calls, legs, features, dial plan."""
