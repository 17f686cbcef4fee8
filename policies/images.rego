# CART-IMG-001: images pinned by digest, never latest.
# CART-IMG-002: images from allowed registries.
package rulebook

import rego.v1

has_digest(image) if {
	parts := split(image, "@")
	count(parts) == 2
	regex.match(`^sha256:[0-9a-f]{64}$`, parts[1])
}

image_tag(image) := tag if {
	segs := split(split(image, "@")[0], "/")
	last := segs[count(segs) - 1]
	contains(last, ":")
	parts := split(last, ":")
	tag := parts[count(parts) - 1]
}

uses_latest(image) if image_tag(image) == "latest"

uses_latest(image) if {
	not image_tag(image)
	not has_digest(image)
}

deny_cart_img_001 contains msg if {
	some [obj, _, c] in workload_containers
	image := image_of(c)
	not has_digest(image)
	msg := sprintf("CART-IMG-001: %v: container %v image %v is not pinned by digest", [who(obj), cname(c), image])
	not excepted(msg)
}

deny_cart_img_001 contains msg if {
	some [obj, _, c] in workload_containers
	image := image_of(c)
	uses_latest(image)
	msg := sprintf("CART-IMG-001: %v: container %v image %v uses the latest tag", [who(obj), cname(c), image])
	not excepted(msg)
}

deny_cart_img_002 contains msg if {
	some [obj, _, c] in workload_containers
	image := image_of(c)
	not startswith_any(image, params.allowedRegistries)
	msg := sprintf("CART-IMG-002: %v: container %v image %v is not from an allowed registry (%v)", [who(obj), cname(c), image, concat(", ", params.allowedRegistries)])
	not excepted(msg)
}

startswith_any(s, prefixes) if {
	some p in prefixes
	startswith(s, p)
}

# The image reference; "" when unset (absent or null), which no rule lets pass.
image_of(c) := i if {
	i := object.get(c, "image", null)
	i != null
} else := ""
