package executor

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dayops/dayops"
)

// Target is one SSH target of the server configuration: a host a run: step
// with on: runs on.
type Target struct {
	Host string
	Port int // default 22
	User string
	// Key is the PEM private key, from the environment variable KeyEnv
	// (named in messages).
	Key    []byte
	KeyEnv string
	// Environments, when set, are the only environments whose runs may use
	// the target; a run without an environment may not.
	Environments []string
	// TrustOnFirstUse accepts the key of a host that KnownHosts has no key
	// for, and appends it there. A different key is refused all the same.
	TrustOnFirstUse bool
}

// Targets are the SSH targets steps may run on, from the server
// configuration (never from the ops repo).
type Targets struct {
	Hosts  map[string]Target   // by name
	Groups map[string][]string // group name -> target names
	// KnownHosts is the known_hosts file host keys are checked against.
	KnownHosts string
	// Keepalive is how often a keepalive@openssh.com request goes to the
	// host during a step (default 5s); after KeepaliveMisses unanswered in a
	// row (default 3) the connection counts as lost and the step fails. The
	// remote side stops the step when it hears nothing for as long.
	Keepalive       time.Duration
	KeepaliveMisses int
	// DialTimeout bounds connecting and the SSH handshake (default 10s).
	DialTimeout time.Duration
}

// names are the target and group names, sorted, for messages.
func (t *Targets) names() []string {
	var out []string
	if t != nil {
		for n := range t.Hosts {
			out = append(out, n)
		}
		for n := range t.Groups {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Resolve returns the hosts of the target or group name for a run in
// environment env ("" when the run has none), in configuration order. An
// unknown name, or a target limited to other environments, is an error of
// kind invalid that says what is known or allowed.
func (t *Targets) Resolve(name, env string) ([]string, error) {
	var hosts []string
	switch {
	case t == nil || len(t.Hosts) == 0:
		return nil, dayops.Errorf(dayops.KindInvalid, "on: %s needs SSH targets, and the server configuration has none: add targets (and ssh.known_hosts) to it, or give `--config FILE` to dayops run and plan", name)
	case t.Groups[name] != nil:
		hosts = t.Groups[name]
	default:
		if _, ok := t.Hosts[name]; !ok {
			hint := ""
			if s := dayops.Suggest(name, t.names()); s != "" {
				hint = fmt.Sprintf(" — did you mean %q?", s)
			}
			return nil, dayops.Errorf(dayops.KindInvalid, "on: %s is not a target or group of the server configuration%s (known: %s)", name, hint, strings.Join(t.names(), ", "))
		}
		hosts = []string{name}
	}
	for _, h := range hosts {
		tg := t.Hosts[h]
		if len(tg.Environments) == 0 || slices.Contains(tg.Environments, env) {
			continue
		}
		if env == "" {
			return nil, dayops.Errorf(dayops.KindInvalid, "target %s may be used only by runs in %s, and this run has no environment", h, strings.Join(tg.Environments, ", "))
		}
		return nil, dayops.Errorf(dayops.KindInvalid, "target %s may be used only by runs in %s, not %s", h, strings.Join(tg.Environments, ", "), env)
	}
	return slices.Clone(hosts), nil
}

// SSHRunner runs steps on SSH targets: ProcessSpec.Target names the target.
// The host key is checked against the known_hosts file; the script and the
// environment travel as data on the session's input to a fixed remote
// wrapper, which runs the script with `bash -eo pipefail` in a process group
// of its own (setsid) and kills that group on cancel, at the end, or when it
// hears nothing from dayops for the keepalive time.
type SSHRunner struct {
	targets     *Targets
	signers     map[string]ssh.Signer
	keepalive   time.Duration
	misses      int
	dialTimeout time.Duration
	mu          sync.Mutex // known_hosts appends (trust on first use)
}

// NewSSHRunner checks the targets' keys and returns a runner for them.
func NewSSHRunner(t *Targets) (*SSHRunner, error) {
	r := &SSHRunner{targets: t, signers: map[string]ssh.Signer{},
		keepalive: t.Keepalive, misses: t.KeepaliveMisses, dialTimeout: t.DialTimeout}
	if r.keepalive <= 0 {
		r.keepalive = 5 * time.Second
	}
	if r.misses <= 0 {
		r.misses = 3
	}
	if r.dialTimeout <= 0 {
		r.dialTimeout = 10 * time.Second
	}
	if len(t.Hosts) > 0 && t.KnownHosts == "" {
		return nil, dayops.Errorf(dayops.KindInvalid, "ssh.known_hosts is not set: SSH targets need a known_hosts file with their host keys")
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range t.Hosts {
			if !yield(n) {
				return
			}
		}
	}) {
		if len(t.Hosts[name].Key) == 0 {
			return nil, dayops.Errorf(dayops.KindInvalid, "the private key of target %s is missing: set %s to it", name, or(t.Hosts[name].KeyEnv, "its key_env"))
		}
		s, err := ssh.ParsePrivateKey(t.Hosts[name].Key)
		if err != nil {
			var pp *ssh.PassphraseMissingError
			why := "it is not an unencrypted private key in OpenSSH or PEM format"
			if errors.As(err, &pp) {
				why = "it is protected by a passphrase, which dayops cannot type: give it a key without one"
			}
			return nil, dayops.Errorf(dayops.KindInvalid, "the private key of target %s (%s) cannot be used: %s", name, or(t.Hosts[name].KeyEnv, "key"), why)
		}
		r.signers[name] = s
	}
	return r, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// KillLeftovers does nothing for SSH: the remote wrapper stops its step by
// itself when the dayops process that started it is gone (its connection
// ends or goes silent for the keepalive time).
func (r *SSHRunner) KillLeftovers(int64, string) (int, int, error) { return 0, 0, nil }

// addr is host:port of target t.
func (t Target) addr() string {
	port := t.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(port))
}

// dial connects to target name and checks its host key.
func (r *SSHRunner) dial(ctx context.Context, name string) (*ssh.Client, error) {
	t, ok := r.targets.Hosts[name]
	if !ok {
		return nil, dayops.Errorf(dayops.KindInvalid, "%s is not a target of the server configuration (known: %s)", name, strings.Join(r.targets.names(), ", "))
	}
	addr := t.addr()
	check, algos, err := r.hostKeyCheck(name, t)
	if err != nil {
		return nil, err
	}
	var refused error
	cfg := &ssh.ClientConfig{
		User: t.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(r.signers[name])},
		HostKeyAlgorithms: algos, Timeout: r.dialTimeout,
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			refused = check(hostname, remote, key)
			return refused
		},
	}
	d := net.Dialer{Timeout: r.dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, dayops.Errorf(dayops.KindUnavailable, "connecting to %s (%s): %s", name, addr, netReason(err))
	}
	_ = conn.SetDeadline(time.Now().Add(r.dialTimeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stop()
	if err != nil {
		conn.Close()
		if refused != nil {
			return nil, refused
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, dayops.Errorf(dayops.KindUnavailable, "%s (%s) refused the key of %s for user %s: add its public key to ~%s/.ssh/authorized_keys there", name, addr, or(t.KeyEnv, "the target"), t.User, t.User)
		}
		return nil, dayops.Errorf(dayops.KindUnavailable, "SSH handshake with %s (%s): %s", name, addr, netReason(err))
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// netReason is the end of a network error, without Go's operation prefix.
func netReason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return strings.TrimPrefix(err.Error(), "ssh: ")
}

// hostKeyCheck reads the known_hosts file and returns the check of target
// name's key, and the key algorithms to ask the host for: those of the keys
// known for it, so that a host with several keys shows the one on file.
func (r *SSHRunner) hostKeyCheck(name string, t Target) (ssh.HostKeyCallback, []string, error) {
	file := r.targets.KnownHosts
	if t.TrustOnFirstUse {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_RDONLY, 0o600)
		if err == nil {
			f.Close()
		}
	}
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, nil, dayops.Errorf(dayops.KindInvalid, "ssh.known_hosts %s cannot be read: %s", file, strings.TrimPrefix(err.Error(), "knownhosts: "))
	}
	var algos []string
	var ke *knownhosts.KeyError
	probeAddr := &net.TCPAddr{IP: net.ParseIP(t.Host), Port: t.Port}
	if probeAddr.IP == nil {
		probeAddr.IP = net.IPv4zero
	}
	if err := cb(t.addr(), probeAddr, probeKey); errors.As(err, &ke) {
		for _, k := range ke.Want {
			algos = append(algos, keyAlgorithms(k.Key.Type())...)
		}
	}
	check := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) == 0 && t.TrustOnFirstUse:
			return r.trust(file, hostname, key)
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return dayops.Errorf(dayops.KindUnavailable, "refused %s (%s): its host key %s %s is not in ssh.known_hosts %s, and trust_on_first_use is off; if that is the host's key (compare with ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on it), add it with ssh-keyscan",
				name, t.addr(), key.Type(), ssh.FingerprintSHA256(key), file)
		case errors.As(err, &ke):
			var want []string
			for _, k := range ke.Want {
				want = append(want, fmt.Sprintf("%s %s (line %d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Line))
			}
			return dayops.Errorf(dayops.KindUnavailable, "refused %s (%s): its host key %s %s does not match ssh.known_hosts %s, which has %s; the host was reinstalled or someone is in between: check before you replace the line",
				name, t.addr(), key.Type(), ssh.FingerprintSHA256(key), file, strings.Join(want, ", "))
		}
		var re *knownhosts.RevokedError
		if errors.As(err, &re) {
			return dayops.Errorf(dayops.KindUnavailable, "refused %s (%s): its host key %s is revoked in ssh.known_hosts %s", name, t.addr(), ssh.FingerprintSHA256(key), file)
		}
		return dayops.Errorf(dayops.KindUnavailable, "refused %s (%s): checking its host key: %v", name, t.addr(), err)
	}
	return check, algos, nil
}

// trust appends hostname's key to the known_hosts file (trust on first use).
func (r *SSHRunner) trust(file, hostname string, key ssh.PublicKey) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return dayops.Errorf(dayops.KindUnavailable, "trusting the host key of %s on first use: %v", hostname, err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)); err != nil {
		return dayops.Errorf(dayops.KindUnavailable, "trusting the host key of %s on first use: %v", hostname, err)
	}
	return nil
}

// probeKey is a key no host has: checking it yields the keys on file.
var probeKey = func() ssh.PublicKey {
	k, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		panic(err)
	}
	return k
}()

// keyAlgorithms are the host key algorithms that show a key of type typ.
func keyAlgorithms(typ string) []string {
	if typ == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{typ}
}
