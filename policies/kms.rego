# CART-KMS-001..003: the KMS inventory (configs/kms/*.yaml, kind KmsInventory).
# Missing fields count as "<unset>" and fail: nothing passes for lack of a value.
package rulebook

import rego.v1

inventory_keys contains [obj, k] if {
	some obj in docs
	obj.kind == "KmsInventory"
	some k in list_at(obj, "keys")
}

key_where(obj, k) := sprintf("%v: key %v v%v", [who(obj), unset_at(k, "id"), unset_at(k, "version")])

deny_cart_kms_001 contains msg if {
	some [obj, k] in inventory_keys
	token := unset_at(k, "token")
	not token in {n | some t in list_at(obj, "tokens"); n := unset_at(t, "name"); n != "<unset>"}
	msg := sprintf("CART-KMS-001: %v names token %v, which is not an HSM token of the inventory", [key_where(obj, k), token])
	not excepted(msg)
}

deny_cart_kms_002 contains msg if {
	some [obj, k] in inventory_keys
	k.algorithm == "EC"
	curve := unset_at(k, "curve")
	not curve in params.kms.allowedAlgorithms.EC
	msg := sprintf("CART-KMS-002: %v uses EC curve %v; allowed: %v", [key_where(obj, k), curve, concat(", ", params.kms.allowedAlgorithms.EC)])
	not excepted(msg)
}

deny_cart_kms_002 contains msg if {
	some [obj, k] in inventory_keys
	k.algorithm == "RSA"
	size := unset_at(k, "size")
	not size in params.kms.allowedAlgorithms.RSA
	allowed := concat(", ", [sprintf("%v", [s]) | some s in params.kms.allowedAlgorithms.RSA])
	msg := sprintf("CART-KMS-002: %v uses RSA size %v; allowed: %v", [key_where(obj, k), size, allowed])
	not excepted(msg)
}

deny_cart_kms_002 contains msg if {
	some [obj, k] in inventory_keys
	algorithm := unset_at(k, "algorithm")
	not algorithm in {"EC", "RSA"}
	msg := sprintf("CART-KMS-002: %v uses algorithm %v; allowed: EC, RSA", [key_where(obj, k), algorithm])
	not excepted(msg)
}

key_max_cryptoperiod(k) := params.kms.maxCryptoperiodDays[unset_at(k, "purpose")]

deny_cart_kms_003 contains msg if {
	some [obj, k] in inventory_keys
	not key_max_cryptoperiod(k)
	msg := sprintf("CART-KMS-003: %v has purpose %v, which has no maximum cryptoperiod in the catalogue", [key_where(obj, k), unset_at(k, "purpose")])
	not excepted(msg)
}

deny_cart_kms_003 contains msg if {
	some [obj, k] in inventory_keys
	key_max_cryptoperiod(k)
	not is_number(object.get(k, "cryptoperiodDays", null))
	msg := sprintf("CART-KMS-003: %v has no cryptoperiodDays", [key_where(obj, k)])
	not excepted(msg)
}

deny_cart_kms_003 contains msg if {
	some [obj, k] in inventory_keys
	max := key_max_cryptoperiod(k)
	is_number(k.cryptoperiodDays)
	k.cryptoperiodDays > max
	msg := sprintf("CART-KMS-003: %v has a cryptoperiod of %v days; at most %v for %v", [key_where(obj, k), k.cryptoperiodDays, max, k.purpose])
	not excepted(msg)
}

deny_cart_kms_003 contains msg if {
	some [obj, k] in inventory_keys
	key_max_cryptoperiod(k)
	is_number(k.cryptoperiodDays)
	k.state == "active"
	not valid_date(object.get(k, "activatedOn", null))
	msg := sprintf("CART-KMS-003: %v is active but has no activatedOn date (YYYY-MM-DD)", [key_where(obj, k)])
	not excepted(msg)
}

valid_date(d) if {
	is_string(d)
	regex.match(`^\d{4}-\d{2}-\d{2}$`, d)
}

deny_cart_kms_003 contains msg if {
	some [obj, k] in inventory_keys
	key_max_cryptoperiod(k)
	is_number(k.cryptoperiodDays)
	k.state == "active"
	valid_date(object.get(k, "activatedOn", null))
	ends := time.parse_rfc3339_ns(sprintf("%vT00:00:00Z", [k.activatedOn])) + ((k.cryptoperiodDays * 86400) * 1000000000)
	ends < now_ns
	msg := sprintf("CART-KMS-003: %v expired on %v; rotate it", [key_where(obj, k), time.format([ends, "UTC", "2006-01-02"])])
	not excepted(msg)
}
