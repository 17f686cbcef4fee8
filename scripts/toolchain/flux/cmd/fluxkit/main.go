// fluxkit: the local tools of the GitOps loop, built from Flux's own modules.
//
//	fluxkit gitserver --root DIR --listen 127.0.0.1:PORT --access FILE
//	    A Git server over SSH (github.com/fluxcd/gitkit, what Flux's gittestserver is made of),
//	    serving bare repositories under DIR. Keys are authorized by FILE, re-read on every
//	    connection: lines "read <authorized_keys line>" or "write <authorized_keys line>".
//	    A read key may fetch and never push (a pre-receive hook refuses it), as a read-only
//	    GitHub deploy key. The host key (ed25519) is made once under DIR/hostkey and its
//	    known_hosts line written to DIR/known_hosts (its address to DIR/address), so clients
//	    pin it instead of scanning.
//
//	fluxkit gitrepo --root DIR --repo OWNER/NAME
//	    Creates the bare repository DIR/repos/OWNER/NAME.git (branch main) when missing and
//	    (re)installs its pre-receive hook; prints its folder.
//
//	fluxkit assemble --collected DIR --out FILE
//	    The release's install.yaml for the controllers collect.sh collected: each
//	    controller's <c>.crds.yaml and <c>.deployment.yaml built from its module's
//	    config/crd and config/manager (what its release publishes), then flux2's
//	    manifests/install overlay built on top of them with the kustomize API.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: fluxkit gitserver|gitrepo|assemble [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gitserver":
		err = gitserver(os.Args[2:])
	case "gitrepo":
		err = gitrepo(os.Args[2:])
	case "assemble":
		err = assemble(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: expected gitserver, gitrepo or assemble", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fluxkit:", err)
		os.Exit(1)
	}
}
