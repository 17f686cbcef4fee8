# CART-SEC-001: no Secret manifest carries private key material.
package rulebook

import rego.v1

private_key(text) if regex.match(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`, text)

secret_exempt(obj) if sprintf("%v/%v", [object.get(obj, ["metadata", "namespace"], ""), object.get(obj, ["metadata", "name"], "")]) in params.privateKeySecretExemptions

deny_cart_sec_001 contains msg if {
	some obj in docs
	obj.kind == "Secret"
	not secret_exempt(obj)
	some k, v in map_at(obj, "data")
	v != null
	base64.is_valid(v)
	private_key(base64.decode(v))
	msg := sprintf("CART-SEC-001: %v: data.%v holds a private key", [who(obj), k])
	not excepted(msg)
}

deny_cart_sec_001 contains msg if {
	some obj in docs
	obj.kind == "Secret"
	not secret_exempt(obj)
	some k, v in map_at(obj, "stringData")
	v != null
	private_key(v)
	msg := sprintf("CART-SEC-001: %v: stringData.%v holds a private key", [who(obj), k])
	not excepted(msg)
}
