package redisenv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
)

// DefaultPullTimeout bounds how long --redis auto waits for an image
// pull before it falls through to the next choice.
const DefaultPullTimeout = 30 * time.Second

// probe answers auto's questions about this machine (fakes in tests).
type probe interface {
	// docker is nil when a Docker engine answers.
	docker(ctx context.Context) error
	// image is nil when img is present, or was pulled within bound.
	image(ctx context.Context, img string, bound time.Duration) error
	// redisServer is nil when redis-server is in PATH.
	redisServer() error
}

// chooseAuto picks the mode for --redis auto: a Docker engine that
// answers and has the image (present, or pulled within the bound) →
// container; else redis-server in PATH → local; else embedded (basic
// profile only). Never a URL: a REDIS_URL in the environment must not
// aim load at production. It returns the mode and why, in one line.
func chooseAuto(ctx context.Context, s Spec, pr probe) (string, string, error) {
	var passed []string
	if err := pr.docker(ctx); err != nil {
		passed = append(passed, "no Docker engine answers")
	} else if err := pr.image(ctx, s.Image, DefaultPullTimeout); err != nil {
		passed = append(passed, fmt.Sprintf("Docker answers but image %s is not usable (%v)", s.Image, err))
	} else {
		return ModeContainer, fmt.Sprintf("Docker answers and image %s is present", s.Image), nil
	}
	if err := pr.redisServer(); err == nil {
		return ModeLocal, join(passed, "redis-server is in PATH"), nil
	}
	passed = append(passed, "no redis-server in PATH")
	if s.Profile != ProfileBasic {
		return "", "", configErrorf("--redis auto: profile %s needs a real Redis, and %s; %s, or %s",
			s.Profile, joinAnd(passed), RedisServerHowTo, DockerHowTo)
	}
	return ModeEmbedded, join(passed, "embedded miniredis (not Redis performance)"), nil
}

func join(passed []string, chosen string) string {
	if len(passed) == 0 {
		return chosen
	}
	return joinAnd(passed) + ": " + chosen
}

func joinAnd(parts []string) string {
	s := ""
	for i, p := range parts {
		if i > 0 {
			s += "; "
		}
		s += p
	}
	return s
}

// openAuto chooses, says so on s.Log, and starts. The reason is kept in
// Facts.Chosen.
func openAuto(ctx context.Context, s Spec, pr probe) (Env, error) {
	mode, why, err := chooseAuto(ctx, s, pr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(s.Log, "loadgen: --redis auto: %s (%s)\n", mode, why)
	s.Mode = mode
	e, err := providers()[mode].Start(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("--redis auto chose %s (%s): %w", mode, why, err)
	}
	return withChosen{Env: e, why: why}, nil
}

// withChosen records auto's reason in the facts.
type withChosen struct {
	Env
	why string
}

func (w withChosen) Facts() Facts {
	f := w.Env.Facts()
	f.Chosen = w.why
	return f
}

// defaultProbe asks the real machine.
type defaultProbe struct{}

func (defaultProbe) docker(ctx context.Context) error {
	return DockerAnswers(ctx)
}

// ImagePresent reports whether the Docker engine has img locally (nil),
// without pulling it.
func ImagePresent(ctx context.Context, img string) error {
	prov, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return err
	}
	defer prov.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = prov.Client().ImageInspect(ctx, img)
	return err
}

// ImageOf is the image a Spec with no --redis-image uses:
// $SESSIONBENCH_REDIS_IMAGE, else DefaultImage.
func ImageOf(flag string) string {
	s, _ := Spec{Mode: ModeContainer, Image: flag}.normalize()
	return s.Image
}

func (defaultProbe) image(ctx context.Context, img string, bound time.Duration) error {
	if ImagePresent(ctx, img) == nil {
		return nil
	}
	prov, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.NewNoopLogger()))
	if err != nil {
		return err
	}
	defer prov.Close()
	pctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	if err := prov.PullImage(pctx, img); err != nil {
		if errors.Is(pctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("not present, and pulling it took longer than %v", bound)
		}
		return fmt.Errorf("not present, and the pull failed: %v", err)
	}
	return nil
}

func (defaultProbe) redisServer() error {
	_, err := FindRedisServer()
	return err
}
