package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pkiMain writes the certificates and keys of the embedded control plane into
// a folder, keeping what is already there and still valid for a month, so a
// restart keeps the kubeconfig working:
//
//	ca.{crt,key}                    the cluster CA (client and serving certs)
//	apiserver.{crt,key}             serving cert for 127.0.0.1, ::1, localhost
//	admin.{crt,key}                 client cert, group system:masters
//	controller-manager.{crt,key}    client cert, user system:kube-controller-manager
//	source-controller.{crt,key}     client certs of Flux's controllers, which run out of cluster:
//	kustomize-controller.{crt,key}  each is its service account's user name and groups, so the
//	                                RBAC of Flux's install manifest is exactly what they get
//	service-account.{key,pub}       the service-account token signing pair
//
// Private keys are written 0600. Keys are ECDSA P-256.
func pkiMain(args []string) int {
	fs := flag.NewFlagSet("pki", flag.ContinueOnError)
	dir := fs.String("dir", "", "folder to write into (created 0700)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "pki: --dir is required")
		return 2
	}
	if err := writePKI(*dir, time.Now()); err != nil {
		fmt.Fprintf(os.Stderr, "pki: %v\n", err)
		return 1
	}
	return 0
}

type leaf struct {
	name   string
	cn     string
	orgs   []string
	usage  x509.ExtKeyUsage
	dns    []string
	ips    []net.IP
	period time.Duration
}

func writePKI(dir string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	const year = 365 * 24 * time.Hour
	ca, caKey, err := loadOrCreateCA(dir, now, 10*year)
	if err != nil {
		return err
	}
	leaves := []leaf{
		{name: "apiserver", cn: "kube-apiserver", usage: x509.ExtKeyUsageServerAuth,
			dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
			ips: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}, period: year},
		{name: "admin", cn: "cartorio-admin", orgs: []string{"system:masters"}, usage: x509.ExtKeyUsageClientAuth, period: year},
		{name: "controller-manager", cn: "system:kube-controller-manager", usage: x509.ExtKeyUsageClientAuth, period: year},
		{name: "scheduler", cn: "system:kube-scheduler", usage: x509.ExtKeyUsageClientAuth, period: year},
		// kwok stands in for the kubelets: its own identity, bound to kwok's own ClusterRole.
		{name: "kwok", cn: "kwok", usage: x509.ExtKeyUsageClientAuth, period: year},
		{name: "metrics-server", cn: "system:metrics-server", usage: x509.ExtKeyUsageClientAuth, period: year},
		// The aggregation layer: the apiserver proxies metrics.k8s.io to metrics-server as this
		// client (--proxy-client-cert-file), and metrics-server trusts the user it names only from
		// it (--requestheader-allowed-names). Same CA as the rest: the allowed name is the gate.
		{name: "front-proxy-client", cn: "front-proxy-client", usage: x509.ExtKeyUsageClientAuth, period: year},
		// metrics-server's serving certificate: the aggregator dials it by the name of the APIService's
		// Service (<service>.<namespace>.svc) and checks it against the APIService's caBundle (this CA).
		{name: "metrics-server-serving", cn: "metrics-server.kube-system.svc", usage: x509.ExtKeyUsageServerAuth,
			dns: []string{"metrics-server.kube-system.svc", "localhost"},
			ips: []net.IP{net.ParseIP("127.0.0.1")}, period: year},
		// OPA serving the rulebook as the validating admission webhook (the API server checks it against this CA).
		{name: "admission-serving", cn: "cartorio-admissao", usage: x509.ExtKeyUsageServerAuth,
			dns: []string{"localhost"}, ips: []net.IP{net.ParseIP("127.0.0.1")}, period: year},
		// kwok's server, the simulated kubelets' endpoint metrics-server scrapes (verified against this CA).
		{name: "kwok-serving", cn: "kwok", usage: x509.ExtKeyUsageServerAuth,
			dns: []string{"localhost"}, ips: []net.IP{net.ParseIP("127.0.0.1")}, period: year},
	}
	for _, c := range []string{"source-controller", "kustomize-controller"} {
		leaves = append(leaves, leaf{name: c, cn: "system:serviceaccount:flux-system:" + c,
			orgs:  []string{"system:serviceaccounts", "system:serviceaccounts:flux-system"},
			usage: x509.ExtKeyUsageClientAuth, period: year})
	}
	for _, l := range leaves {
		if validFor(filepath.Join(dir, l.name+".crt"), ca, now) {
			continue
		}
		if err := issue(dir, l, ca, caKey, now); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "service-account.key")); errors.Is(err, os.ErrNotExist) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		if err := writeKey(filepath.Join(dir, "service-account.key"), key); err != nil {
			return err
		}
		pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
		if err != nil {
			return err
		}
		if err := writePEM(filepath.Join(dir, "service-account.pub"), "PUBLIC KEY", pub, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func loadOrCreateCA(dir string, now time.Time, period time.Duration) (*x509.Certificate, crypto.Signer, error) {
	crtPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if crt, err := readCert(crtPath); err == nil && now.Add(30*24*time.Hour).Before(crt.NotAfter) {
		raw, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, nil, err
		}
		block, _ := pem.Decode(raw)
		if block == nil {
			return nil, nil, fmt.Errorf("%s is not PEM", keyPath)
		}
		key, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
		}
		return crt, key, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "cartorio-local-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(period),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	// A new CA invalidates every leaf: remove them so they are issued again.
	for _, n := range []string{"apiserver", "admin", "controller-manager"} {
		_ = os.Remove(filepath.Join(dir, n+".crt"))
	}
	if err := writeKey(keyPath, key); err != nil {
		return nil, nil, err
	}
	if err := writePEM(crtPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, nil, err
	}
	crt, err := x509.ParseCertificate(der)
	return crt, key, err
}

func issue(dir string, l leaf, ca *x509.Certificate, caKey crypto.Signer, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.cn, Organization: l.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(l.period),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{l.usage},
		DNSNames:     l.dns,
		IPAddresses:  l.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	if err := writeKey(filepath.Join(dir, l.name+".key"), key); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, l.name+".crt"), "CERTIFICATE", der, 0o644)
}

// validFor: the certificate exists, was signed by this CA and is good for another month.
func validFor(path string, ca *x509.Certificate, now time.Time) bool {
	crt, err := readCert(path)
	if err != nil || crt.CheckSignatureFrom(ca) != nil {
		return false
	}
	return now.Add(30 * 24 * time.Hour).Before(crt.NotAfter)
}

func readCert(path string) (*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s is not PEM", path)
	}
	return x509.ParseCertificate(block.Bytes)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

// writePEM writes through a temporary file so a crash never leaves half a key.
func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}
