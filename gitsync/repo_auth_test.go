package gitsync

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/dayops/dayops"
)

// sshServer is a minimal git-over-SSH server: it accepts one client key and
// runs `git upload-pack` for exec requests, as GitHub's SSH endpoint does.
type sshServer struct {
	addr    string
	hostKey ssh.PublicKey
}

func newSSHServer(t *testing.T, clientKey ssh.PublicKey) *sshServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(key.Marshal(), clientKey.Marshal()) {
				return nil, nil
			}
			return nil, os.ErrPermission
		},
	}
	cfg.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serveSSH(c, cfg) })
		}
	})
	return &sshServer{addr: l.Addr().String(), hostKey: hostSigner.PublicKey()}
}

func serveSSH(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, reqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for req := range reqs {
				if req.Type != "exec" {
					_ = req.Reply(false, nil)
					continue
				}
				var p struct{ Command string }
				if err := ssh.Unmarshal(req.Payload, &p); err != nil {
					_ = req.Reply(false, nil)
					return
				}
				_ = req.Reply(true, nil)
				// "git-upload-pack '/path'"
				dir := strings.Trim(strings.TrimPrefix(p.Command, "git-upload-pack "), "'")
				cmd := exec.Command("git", "upload-pack", dir)
				cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
				cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
				code := uint32(0)
				if err := cmd.Run(); err != nil {
					code = 1
				}
				status := make([]byte, 4)
				binary.BigEndian.PutUint32(status, code)
				_, _ = ch.SendRequest("exit-status", false, status)
				return
			}
		}()
	}
}

// clientKey makes an ed25519 key and writes its private half to a file.
func clientKey(t *testing.T) (ssh.PublicKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sshPub, path
}

func writeKnownHosts(t *testing.T, addr string, key ssh.PublicKey) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSyncOverSSH(t *testing.T) {
	srv, head := serve(t)
	pub, keyPath := clientKey(t)
	ssrv := newSSHServer(t, pub)
	url := "ssh://git@" + ssrv.addr + srv.Path()
	known := writeKnownHosts(t, ssrv.addr, ssrv.hostKey)

	s, _ := newSyncer(t, url, func(o *Options) { o.SSHKeyPath, o.KnownHostsPath = keyPath, known })
	if r := mustSync(t, s, dayops.SyncUpdated); r.Revision != head {
		t.Fatalf("over ssh: %+v", r)
	}
	mustSync(t, s, dayops.SyncUnchanged)

	// A host key that is not the one in known_hosts is refused.
	otherPub, _ := clientKey(t)
	wrongHosts := writeKnownHosts(t, ssrv.addr, otherPub)
	s2, _ := newSyncer(t, url, func(o *Options) { o.SSHKeyPath, o.KnownHostsPath = keyPath, wrongHosts })
	r, err := s2.Sync(t.Context())
	if r.Outcome != dayops.SyncFailed || dayops.KindOf(err) != dayops.KindForbidden || !strings.Contains(r.Errors[0], "host key") {
		t.Fatalf("unknown host key: %+v %v", r, err)
	}

	// A client key the server does not accept fails with the server's answer.
	_, strangerKey := clientKey(t)
	s3, _ := newSyncer(t, url, func(o *Options) { o.SSHKeyPath, o.KnownHostsPath = strangerKey, known })
	if r, err := s3.Sync(t.Context()); r.Outcome != dayops.SyncFailed || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("refused client key: %+v %v", r, err)
	}
}
