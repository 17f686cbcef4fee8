package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// packProxy is the SDK's policy proxy (which starts a Node pack once the engine has sent the stack's
// context, then forwards every call to it) with one call answered here: Remediate, while no policy of the
// pack can remediate.
//
// Why: the engine asks Remediate before it asks Analyze, for every resource, one resource at a time, and
// the program waits for both. @pulumi/policy (server.js) runs a policy in Remediate only when its
// enforcement level is "remediate" — the level Configure gave it, else its own as GetAnalyzerInfo reports
// it — and otherwise answers with an empty response. Most packs have no such policy, and a Remediate took a
// median ~5 ms a resource from the engine's side, of which answering here saves ~3 ms (measured from the
// engine's log on this project's preview; what remains is the engine's own marshalling, most of it for
// large resources such as CRDs). So the levels are read from the two calls as they pass, and while none
// is "remediate" the empty response is given here; as soon as one is (or before the pack's info has been
// seen), the call goes to the pack as before.
type packProxy struct {
	*sdk.PolicyProxy

	mu sync.Mutex
	// The pack's own level for each policy (GetAnalyzerInfo); nil until its answer has been seen.
	own map[string]pulumirpc.EnforcementLevel
	// The levels the last successful Configure gave; nil until one succeeded (server.js replaces its
	// configuration whole on success, and keeps it on failure).
	configured map[string]pulumirpc.EnforcementLevel
}

// newPackProxy starts the SDK's proxy and a server of its own in front of it; the engine is given this
// server's port (written to stdout as the plugin's first line), the pack's output goes to stdout as before.
func newPackProxy(ctx context.Context, stdout io.Writer) (*packProxy, io.Writer, error) {
	// The SDK's proxy writes its own port as the first line when it awaits the stack's context; this one
	// is written instead, so the engine talks to packProxy.
	first := &firstLineAs{w: stdout}
	inner, packStdout, err := sdk.NewPolicyProxy(ctx, first)
	if err != nil {
		return nil, nil, err
	}
	p := &packProxy{PolicyProxy: inner}
	var cancel chan bool
	if done := ctx.Done(); done != nil {
		cancel = make(chan bool, 1)
		go func() {
			<-done
			cancel <- true
		}()
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterAnalyzerServer(srv, p)
			return nil
		},
	})
	if err != nil {
		return nil, nil, err
	}
	first.line = []byte(fmt.Sprintf("%d\n", handle.Port))
	return p, packStdout, nil
}

// firstLineAs writes line in place of the first write made to it, then passes every write on.
type firstLineAs struct {
	w    io.Writer
	line []byte
	once sync.Once
}

func (f *firstLineAs) Write(b []byte) (int, error) {
	replaced := false
	var err error
	f.once.Do(func() {
		replaced = true
		_, err = f.w.Write(f.line)
	})
	if replaced {
		if err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return f.w.Write(b)
}

func (p *packProxy) GetAnalyzerInfo(ctx context.Context, req *emptypb.Empty) (*pulumirpc.AnalyzerInfo, error) {
	info, err := p.PolicyProxy.GetAnalyzerInfo(ctx, req)
	if err == nil {
		own := make(map[string]pulumirpc.EnforcementLevel, len(info.GetPolicies()))
		for _, policy := range info.GetPolicies() {
			own[policy.GetName()] = policy.GetEnforcementLevel()
		}
		p.mu.Lock()
		p.own = own
		p.mu.Unlock()
	}
	return info, err
}

func (p *packProxy) Configure(ctx context.Context, req *pulumirpc.ConfigureAnalyzerRequest) (*emptypb.Empty, error) {
	resp, err := p.PolicyProxy.Configure(ctx, req)
	if err == nil {
		configured := make(map[string]pulumirpc.EnforcementLevel, len(req.GetPolicyConfig()))
		for name, c := range req.GetPolicyConfig() {
			configured[name] = c.GetEnforcementLevel()
		}
		p.mu.Lock()
		p.configured = configured
		p.mu.Unlock()
	}
	return resp, err
}

func (p *packProxy) Remediate(ctx context.Context, req *pulumirpc.AnalyzeRequest) (*pulumirpc.RemediateResponse, error) {
	p.mu.Lock()
	possible := mayRemediate(p.own, p.configured)
	p.mu.Unlock()
	if !possible {
		return &pulumirpc.RemediateResponse{}, nil
	}
	return p.PolicyProxy.Remediate(ctx, req)
}

// mayRemediate says whether a policy of the pack could remediate: one whose level — the configured one if
// Configure named it, else its own — is "remediate"; or, before the pack's policies are known, maybe.
func mayRemediate(own, configured map[string]pulumirpc.EnforcementLevel) bool {
	if own == nil {
		return true
	}
	for name, level := range own {
		if c, ok := configured[name]; ok {
			level = c
		}
		if level == pulumirpc.EnforcementLevel_REMEDIATE {
			return true
		}
	}
	return false
}
