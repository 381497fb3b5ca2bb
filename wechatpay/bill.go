package wechatpay

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Trade bill types (§7.1).
const (
	BillTypeAll     = "ALL"
	BillTypeSuccess = "SUCCESS"
	BillTypeRefund  = "REFUND"
	TarTypeGzip     = "GZIP"
	HashTypeSHA1    = "SHA1"
)

// maxBillDownload caps a downloaded bill (after gunzip), a zip-bomb and
// broken-peer guard: a million-row day is about 300 MiB of CSV.
const maxBillDownload = 1 << 30

// BillRequest asks for a day's trade bill (§7.1).
type BillRequest struct {
	BillDate string // yyyy-MM-dd, Beijing time, within the last 3 months
	BillType string // default BillTypeAll
	Gzip     bool   // tar_type=GZIP: the file is served gzipped
}

// BillURL is where a bill can be downloaded: valid for minutes only (§7.1),
// so download it at once. HashValue is the SHA-1 of the plain (gunzipped)
// file.
type BillURL struct {
	HashType    string `json:"hash_type"`
	HashValue   string `json:"hash_value"`
	DownloadURL string `json:"download_url"`
	// Gzip is the request's tar_type: the download is gzipped.
	Gzip bool `json:"-"`
}

// TradeBill calls GET /v3/bill/tradebill. Before 10:00 the next day it is
// OutcomeUnknown with code STATEMENT_CREATING (ask again in half an hour); a
// day without trades is OutcomeFailed with code NO_STATEMENT_EXIST.
func (c *Client) TradeBill(ctx context.Context, req BillRequest) (*BillURL, error) {
	op := "GET " + PathTradeBill
	if len(req.BillDate) != len("2006-01-02") {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: fmt.Errorf("bill_date %q is not yyyy-MM-dd", req.BillDate)}
	}
	if _, err := time.Parse("2006-01-02", req.BillDate); err != nil {
		return nil, &Error{Outcome: OutcomeConfig, Op: op, Err: fmt.Errorf("bill_date %q is not yyyy-MM-dd", req.BillDate)}
	}
	if req.BillType == "" {
		req.BillType = BillTypeAll
	}
	q := url.Values{"bill_date": {req.BillDate}, "bill_type": {req.BillType}}
	if req.Gzip {
		q.Set("tar_type", TarTypeGzip)
	}
	var b BillURL
	if _, err := c.call(ctx, "GET", PathTradeBill, q.Encode(), nil, &b); err != nil {
		return nil, err
	}
	if b.DownloadURL == "" || b.HashValue == "" {
		return nil, &Error{Outcome: OutcomeUnknown, Op: op, Verified: true, Err: errors.New("answer lacks download_url or hash_value")}
	}
	if b.HashType != HashTypeSHA1 {
		return nil, &Error{Outcome: OutcomeUnknown, Op: op, Verified: true, Err: fmt.Errorf("hash_type %q, want SHA1", b.HashType)}
	}
	b.Gzip = req.Gzip
	return &b, nil
}

// ErrBillHash means a downloaded bill is not the one WeChat Pay described:
// its SHA-1 differs from hash_value. Nothing read from it may be used.
var ErrBillHash = errors.New("wechatpay: bill does not match its hash_value")

// DownloadBillTo fetches b's file into w, gunzipped, and checks its SHA-1
// against hash_value once it has all been read; it returns the plain size.
// The download is signed like any request but its answer is not (§7.2), so
// the hash is what vouches for it: on any error, including ErrBillHash, w
// holds bytes that must be discarded. The download URL must be on the
// client's own origin (it came from a verified answer; this keeps the
// request's Authorization from going anywhere else). Errors leave the URL
// out: it carries a token.
func (c *Client) DownloadBillTo(ctx context.Context, b *BillURL, w io.Writer) (int64, error) {
	n, err := c.downloadBill(ctx, b, w)
	if err != nil {
		return n, fmt.Errorf("wechatpay: download bill: %w", err)
	}
	return n, nil
}

// DownloadBill is DownloadBillTo into memory, then ParseBill.
func (c *Client) DownloadBill(ctx context.Context, b *BillURL) (*Bill, error) {
	var buf bytes.Buffer
	if _, err := c.DownloadBillTo(ctx, b, &buf); err != nil {
		return nil, err
	}
	return ParseBill(buf.Bytes())
}

func (c *Client) downloadBill(ctx context.Context, b *BillURL, w io.Writer) (int64, error) {
	u, err := url.Parse(b.DownloadURL)
	if err != nil || u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return 0, errors.New("the download URL is not on the configured WeChat Pay origin")
	}
	want, err := hex.DecodeString(b.HashValue)
	if err != nil || len(want) != sha1.Size {
		return 0, fmt.Errorf("hash_value %q is not a hex SHA-1", b.HashValue)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	target := u.RequestURI()
	auth, err := SignRequest(c.cfg.PrivateKey, c.cfg.MchID, c.cfg.SerialNo, http.MethodGet, target, nil, c.cfg.Now())
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.Scheme+"://"+u.Host+target, nil)
	if err != nil {
		return 0, errors.New("the download URL is malformed")
	}
	req.Header.Set("Authorization", auth.String())
	req.Header.Set("Accept", "*/*")
	req.Header.Set("User-Agent", UserAgent)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var src io.Reader = resp.Body
	if b.Gzip {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return 0, fmt.Errorf("gunzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	h := sha1.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(src, maxBillDownload+1))
	if err != nil {
		return n, err
	}
	if n > maxBillDownload {
		return n, fmt.Errorf("bill larger than %d MiB", maxBillDownload>>20)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return n, fmt.Errorf("%w: SHA-1 %x, hash_value %s", ErrBillHash, got, strings.ToLower(b.HashValue))
	}
	return n, nil
}
