package capture

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/wire"
)

// Amazon Bedrock Runtime (README "Amazon Bedrock"). A request is signed
// with SigV4 for the host it goes to, so a client's signature — made for
// lessllm's address — is worthless upstream: lessllm always signs Bedrock
// requests itself, with the provider's credentials, after the body and
// headers are final.

// resolveBedrock routes a Bedrock client's request (/model/{id}/invoke, …)
// to the provider named bedrock, or the only one of that type, or to the
// bedrock provider an alias in the path names, the path's model replaced.
// lessllm does not translate Bedrock's API: an alias to another type is
// refused.
func resolveBedrock(cfg *config.File, r *http.Request) (*route, error) {
	rt := &route{dialect: wire.Bedrock, upstreamDialect: wire.Bedrock}
	// The model is read from the escaped path: an inference profile's ARN
	// (…:application-inference-profile/abc) comes with its slash as %2F.
	escaped := r.URL.EscapedPath()
	rt.model, _ = url.PathUnescape(wire.BedrockModel(escaped))
	rt.upstreamModel = rt.model
	if a, ok := cfg.Models[rt.model]; ok && rt.model != "" {
		rt.alias, rt.providerName, rt.upstreamModel = true, a.Provider, a.Model
		rt.provider = cfg.Providers[a.Provider]
		if rt.provider == nil || rt.provider.Type != config.Bedrock {
			return nil, fmt.Errorf("model %q is an alias for provider %q; lessllm does not translate Bedrock's API: alias a bedrock provider, or call the model with the OpenAI or Anthropic SDK",
				rt.model, a.Provider)
		}
	} else {
		name, err := providerOfType(cfg, config.Bedrock, r.URL.Path)
		if err != nil {
			return nil, err
		}
		rt.providerName, rt.provider = name, cfg.Providers[name]
	}
	raw := wire.WithBedrockModel(escaped, bedrockEscape(rt.upstreamModel))
	path, _ := url.PathUnescape(raw)
	u, err := upstreamURL(rt.provider.BaseURL, &url.URL{Path: path, RawPath: raw, RawQuery: r.URL.RawQuery})
	if err != nil {
		return nil, err
	}
	rt.url = u
	return rt, nil
}

// bedrockEscape escapes a model id for a path segment as AWS's SDKs do:
// the colon of …-v1:0 and the slash of an ARN too.
func bedrockEscape(model string) string {
	return strings.ReplaceAll(url.PathEscape(model), ":", "%3A")
}

// bedrockInvokeURL is where a Messages request for model goes on Bedrock.
func bedrockInvokeURL(base, model string, stream bool) (string, error) {
	raw := wire.BedrockPrefix + bedrockEscape(model) + "/invoke"
	if stream {
		raw += "-with-response-stream"
	}
	path, _ := url.PathUnescape(raw)
	return upstreamURL(base, &url.URL{Path: path, RawPath: raw})
}

// bedrockMessagesBody turns a Messages request body into Bedrock's invoke
// body for Anthropic's models: no model (the path names it), no stream
// flag (the path says it), and anthropic_version "bedrock-2023-05-31".
// stream reports whether the request asked for a stream.
func bedrockMessagesBody(body []byte) (out []byte, stream bool, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, false, err
	}
	_ = json.Unmarshal(m["stream"], &stream)
	delete(m, "model")
	delete(m, "stream")
	m["anthropic_version"] = json.RawMessage(`"bedrock-2023-05-31"`)
	out, err = json.Marshal(m)
	return out, stream, err
}

// awsSigner signs requests to one Bedrock provider.
type awsSigner struct {
	creds  aws.CredentialsProvider
	region string
	signer *v4.Signer
}

// signers holds an awsSigner per configured provider, built on first use.
var signers sync.Map // *config.Provider → *awsSigner

// signerFor returns the provider's signer: its configured keys, or the
// standard AWS chain (environment, shared config and credentials files
// with aws_profile, SSO, container and instance roles), cached and
// refreshed by the SDK.
func signerFor(ctx context.Context, p *config.Provider) (*awsSigner, error) {
	if s, ok := signers.Load(p); ok {
		return s.(*awsSigner), nil
	}
	s := &awsSigner{region: p.Region, signer: v4.NewSigner()}
	if p.AWSAccessKeyID != "" {
		s.creds = credentials.NewStaticCredentialsProvider(p.AWSAccessKeyID, p.AWSSecretAccessKey, p.AWSSessionToken)
	} else {
		opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(p.Region)}
		if p.AWSProfile != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(p.AWSProfile))
		}
		c, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("AWS credentials for Bedrock: %w", err)
		}
		s.creds = c.Credentials
	}
	actual, _ := signers.LoadOrStore(p, s)
	return actual.(*awsSigner), nil
}

// sign removes whatever credentials the request carries and signs it for
// Bedrock with the provider's (SigV4, service bedrock).
func (s *awsSigner) sign(ctx context.Context, req *http.Request, body []byte) error {
	for _, h := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"} {
		req.Header.Del(h)
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("AWS credentials for Bedrock: %w", err)
	}
	sum := sha256.Sum256(body)
	return s.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "bedrock", s.region, time.Now())
}

// eventStreamToSSE gives a client of the Messages API (or, through next,
// of Chat Completions) the server-sent events of a Bedrock invoke stream:
// each event-stream "chunk" becomes the Messages event it carries, an
// exception an error event; an error answer is given Anthropic's shape.
type eventStreamToSSE struct {
	next   bodyRewriter // nil: the client speaks the Messages API
	status int
	stream bool
	parser wire.EventStreamParser
	body   []byte // an answer that is not a stream
}

var _ bodyRewriter = (*eventStreamToSSE)(nil)

// asSSE is resp as the Messages API would have answered: a stream is
// text/event-stream.
func (e *eventStreamToSSE) asSSE(resp *http.Response) *http.Response {
	if mediaType(resp.Header.Get("Content-Type")) != wire.EventStreamType {
		return resp
	}
	c := *resp
	c.Header = resp.Header.Clone()
	c.Header.Set("Content-Type", "text/event-stream")
	return &c
}

func (e *eventStreamToSSE) collects(resp *http.Response) bool {
	if e.next != nil {
		return e.next.collects(e.asSSE(resp))
	}
	return mediaType(resp.Header.Get("Content-Type")) != wire.EventStreamType
}

func (e *eventStreamToSSE) begin(resp *http.Response, h http.Header) {
	e.status = resp.StatusCode
	e.stream = mediaType(resp.Header.Get("Content-Type")) == wire.EventStreamType
	h.Del("Content-Length")
	if e.stream {
		h.Set("Content-Type", "text/event-stream")
	}
	if e.next != nil {
		e.next.begin(e.asSSE(resp), h)
	}
}

func (e *eventStreamToSSE) chunk(t int64, p []byte, w io.Writer) error {
	if !e.stream {
		e.body = append(e.body, p...)
		return nil
	}
	var sse bytes.Buffer
	e.parser.Feed(t, p, func(ev wire.Event) {
		data := wire.BedrockChunkEvent(ev)
		if ev.Name == "error" {
			data = ev.Data
		}
		if data == nil {
			return
		}
		var typed struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(data, &typed)
		fmt.Fprintf(&sse, "event: %s\ndata: %s\n\n", typed.Type, data)
	})
	if sse.Len() == 0 {
		return nil
	}
	if e.next != nil {
		return e.next.chunk(t, sse.Bytes(), w)
	}
	if w == nil {
		return nil
	}
	_, err := w.Write(sse.Bytes())
	return err
}

func (e *eventStreamToSSE) end(w io.Writer) error {
	body := e.body
	if !e.stream && e.status >= 400 {
		// Bedrock's {"message"} with the kind in a header becomes the
		// Messages API's error.
		var b struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &b) == nil && b.Message != "" {
			body, _ = json.Marshal(map[string]any{"type": "error", "error": map[string]any{"type": anthropicErrorType(e.status), "message": b.Message}})
		}
	}
	if e.next != nil {
		if !e.stream {
			if err := e.next.chunk(0, body, w); err != nil {
				return err
			}
		}
		return e.next.end(w)
	}
	if e.stream {
		return nil
	}
	_, err := w.Write(body)
	return err
}
