package redisenv

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeProbe answers auto's questions from fields.
type fakeProbe struct {
	dockerErr, imageErr, redisErr error
	pulled                        []string
}

func (f *fakeProbe) docker(context.Context) error { return f.dockerErr }
func (f *fakeProbe) image(_ context.Context, img string, _ time.Duration) error {
	f.pulled = append(f.pulled, img)
	return f.imageErr
}
func (f *fakeProbe) redisServer() error { return f.redisErr }

// TestChooseAuto: auto picks as documented — container when Docker
// answers and has the image, else local when redis-server is in PATH,
// else embedded for the basic profile (an error for a real tier) — and
// says why in one line. It never picks a URL, whatever REDIS_URL says.
func TestChooseAuto(t *testing.T) {
	t.Setenv("REDIS_URL", "redis://production.example:6379/0")
	no := errors.New("no")
	for _, c := range []struct {
		name      string
		probe     fakeProbe
		profile   string
		want      string
		why       []string
		wantError string
	}{
		{"docker with image", fakeProbe{}, ProfileBasic, ModeContainer, []string{"Docker answers", "redis:7"}, ""},
		{"docker, image unusable, redis-server", fakeProbe{imageErr: errors.New("pull failed")}, ProfileBasic, ModeLocal,
			[]string{"image redis:7 is not usable (pull failed)", "redis-server is in PATH"}, ""},
		{"no docker, redis-server", fakeProbe{dockerErr: no}, ProfileStandard, ModeLocal, []string{"no Docker engine answers", "redis-server is in PATH"}, ""},
		{"nothing, basic", fakeProbe{dockerErr: no, redisErr: no}, ProfileBasic, ModeEmbedded, []string{"no redis-server in PATH", "not Redis performance"}, ""},
		{"nothing, real tier", fakeProbe{dockerErr: no, redisErr: no}, ProfileCluster3, "", nil, "profile cluster3 needs a real Redis"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Spec{Mode: ModeAuto, Profile: c.profile, Image: "redis:7"}.normalize()
			if err != nil {
				t.Fatal(err)
			}
			mode, why, err := chooseAuto(context.Background(), s, &c.probe)
			if c.wantError != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("err = %v; want a ConfigError with %q", err, c.wantError)
				}
				return
			}
			if err != nil || mode != c.want {
				t.Fatalf("chose %q (%v), want %q", mode, err, c.want)
			}
			for _, w := range c.why {
				if !strings.Contains(why, w) {
					t.Errorf("why %q lacks %q", why, w)
				}
			}
			if strings.Contains(why, "\n") {
				t.Errorf("why is not one line: %q", why)
			}
		})
	}
}

// TestImageDefault: --redis-image, else SESSIONBENCH_REDIS_IMAGE, else
// the official Redis 7 image.
func TestImageDefault(t *testing.T) {
	t.Setenv(ImageEnv, "")
	s, _ := Spec{Mode: ModeContainer}.normalize()
	if s.Image != DefaultImage {
		t.Errorf("default image %q", s.Image)
	}
	t.Setenv(ImageEnv, "mirror.local/redis:7.2")
	s, _ = Spec{Mode: ModeContainer}.normalize()
	if s.Image != "mirror.local/redis:7.2" {
		t.Errorf("env image %q", s.Image)
	}
	s, _ = Spec{Mode: ModeContainer, Image: "redis:7.4"}.normalize()
	if s.Image != "redis:7.4" {
		t.Errorf("flag image %q", s.Image)
	}
}
