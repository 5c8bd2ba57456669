package runner

import (
	"fmt"
	"io"
	"os"

	gastownv1 "github.com/boshu2/gastown-operator/api/v1alpha1"
	"github.com/boshu2/gastown-operator/internal/polecat"
	"github.com/boshu2/gastown-operator/internal/redact"
)

// WriteResult writes the result to the termination log, where the kubelet
// picks it up as the container's termination message, and to log, so that
// kubectl logs shows it too. A result holds no secret: its message and
// summary are redacted here too (token shapes, URL credentials and the
// values of the environment's credential variables), for results made
// before a Runner existed.
func WriteResult(path string, res gastownv1.PolecatResult, log io.Writer) error {
	secrets := EnvSecrets(os.Environ())
	res.Message = redact.Text(res.Message, secrets...)
	res.Summary = redact.Text(res.Summary, secrets...)
	msg := polecat.EncodeResult(res)
	fmt.Fprintf(log, "gastown-polecat: result: %s\n", msg)
	if err := os.WriteFile(path, msg, 0o644); err != nil {
		return fmt.Errorf("write the result to %s: %w", path, err)
	}
	return nil
}
