package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fluxcd/gitkit"
	"golang.org/x/crypto/ssh"
)

// The hook every served repository gets: only write keys push. A push straight to the bare
// folder (no GITKIT_KEY: whoever can write the folder already has write access) is let through.
const preReceive = `#!/bin/sh
case "${GITKIT_KEY-}" in
  ""|write:*) exit 0 ;;
esac
echo "fluxkit: key ${GITKIT_KEY#*:} has read-only access to this repository" >&2
exit 1
`

func gitserver(args []string) error {
	fs := flag.NewFlagSet("gitserver", flag.ContinueOnError)
	root := fs.String("root", "", "folder of the bare repositories, the host key and known_hosts")
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	access := fs.String("access", "", "the access file: 'read|write <authorized_keys line>' per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *root == "" || *access == "" {
		return errors.New("gitserver: --root and --access are required")
	}
	reposDir := filepath.Join(*root, "repos")
	keyDir := filepath.Join(*root, "hostkey")
	if err := os.MkdirAll(reposDir, 0o755); err != nil {
		return err
	}
	cfg := gitkit.Config{Dir: reposDir, KeyDir: keyDir, Auth: true, GitUser: "git"}
	hostPub, err := ensureHostKey(cfg.KeyPath())
	if err != nil {
		return err
	}
	srv := gitkit.NewSSH(cfg)
	srv.PublicKeyLookupFunc = func(content string) (*gitkit.PublicKey, error) { return lookup(*access, content) }
	if err := srv.Listen(*listen); err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(srv.Address())
	line := fmt.Sprintf("[%s]:%s %s", host, port, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub))))
	if err := os.WriteFile(filepath.Join(*root, "known_hosts"), []byte(line+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*root, "address"), []byte(srv.Address()+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "fluxkit gitserver: serving %s on ssh://git@%s\n", reposDir, srv.Address())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-stop; _ = srv.Stop() }()
	if err := srv.Serve(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// lookup authorizes a client key by the access file; the key id carries the access level
// to the hook (gitkit passes it as GITKIT_KEY).
func lookup(file, content string) (*gitkit.PublicKey, error) {
	offered := strings.Fields(content)
	if len(offered) < 2 {
		return nil, errors.New("malformed client key")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("no access file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if fields[0] != "read" && fields[0] != "write" {
			continue
		}
		if fields[1] == offered[0] && fields[2] == offered[1] {
			pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.Join(fields[1:], " ")))
			if err != nil {
				return nil, err
			}
			return &gitkit.PublicKey{Id: fields[0] + ":" + ssh.FingerprintSHA256(pub)}, nil
		}
	}
	return nil, errors.New("key not authorized")
}

func ensureHostKey(path string) (ssh.PublicKey, error) {
	if b, err := os.ReadFile(path); err == nil {
		k, err := ssh.ParsePrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", path, err)
		}
		return k.PublicKey(), nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "fluxkit host key")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	return signer.PublicKey(), nil
}

func gitrepo(args []string) error {
	fs := flag.NewFlagSet("gitrepo", flag.ContinueOnError)
	root := fs.String("root", "", "the server's folder (as gitserver --root)")
	repo := fs.String("repo", "", "OWNER/NAME")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *root == "" || *repo == "" || strings.Count(*repo, "/") != 1 || strings.Contains(*repo, "..") {
		return errors.New("gitrepo: --root and --repo OWNER/NAME are required")
	}
	dir := filepath.Join(*root, "repos", *repo+".git")
	if err := ensureRepo(dir); err != nil {
		return err
	}
	fmt.Println(dir)
	return nil
}

func ensureRepo(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return err
		}
		if out, err := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("git init --bare %s: %v: %s", dir, err, out)
		}
	}
	return os.WriteFile(filepath.Join(dir, "hooks", "pre-receive"), []byte(preReceive), 0o755)
}
