# CART-K8S-002: the fields the rulebook reads have the types Kubernetes gives them (parameters.shapes).
# A document that breaks this is judged by no other rule (lib.rego keeps it out of `docs`): an ill-typed
# field fails closed. Same table and walk as components/policy/shapes.ts.
package rulebook

import rego.v1

# The table of a document's kind: normalised path ("spec.template.spec.containers.[].name") -> type, every
# parent implied. Expanded from parameters.shapes by `npm run policy:data` (catalogue_data.rego), once, rather
# than for every document; a test keeps it in step with the catalogue.
shape_table(obj) := t if {
	is_string(obj.kind)
	t := shape_tables_default[obj.kind]
} else := shape_tables_default[""]

shape_norm(s) := "[]" if is_number(s)

else := s

shape_key(p, table) := key if {
	n := [shape_norm(s) | some s in p]
	key := shape_key_of(n, table)
}

shape_key_of(n, table) := star if {
	count(n) > 1
	star := concat(".", array.concat(array.slice(n, 0, count(n) - 1), ["*"]))
	table[star]
} else := concat(".", n)

# Whole and within ±2^53, so both enforcers read it exactly.
is_integer(v) if {
	is_number(v)
	floor(v) == v
	abs(v) <= 9007199254740992
}

has_type(v, "integer") if is_integer(v)

has_type(v, "int-or-string") if is_string(v)

has_type(v, "int-or-string") if is_integer(v)

has_type(v, t) if {
	not t in {"integer", "int-or-string"}
	type_name(v) == t
}

display_path(p) := concat("", [display_seg(i, s) | some i, s in p])

display_seg(i, s) := sprintf("[%v]", [s]) if is_number(s)

else := s if i == 0

else := sprintf(".%v", [s])

shape_problems(obj) := {sprintf("%v is %v; expected %v", [display_path(p), type_name(v), want]) |
	table := shape_table(obj)
	walk(obj, [p, v])
	count(p) > 0
	present(p, v)
	want := table[shape_key(p, table)]
	not has_type(v, want)
}

well_formed(obj) if {
	is_object(obj)
	count(shape_problems(obj)) == 0
}

deny_cart_k8s_002 contains msg if {
	some obj in all_docs
	is_object(obj)
	some problem in shape_problems(obj)
	msg := sprintf("CART-K8S-002: %v: %v", [who(obj), problem])
	not excepted(msg)
}

# null is an unset field, as Kubernetes decodes it; a null item of a list is not.
present(_, v) if v != null

present(p, null) if is_number(p[count(p) - 1])
