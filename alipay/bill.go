package alipay

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paygate/paygate"
)

// Bill types of alipay.data.dataservice.bill.downloadurl.query (§3.8).
const (
	BillTypeTrade        = "trade"        // the merchant's trade bill: payments and refunds
	BillTypeSignCustomer = "signcustomer" // the account ledger of every fund movement
)

// BillFileCodeEmpty is the bill_file_code of a day without trades whose bill
// file still exists (§3.8).
const BillFileCodeEmpty = "EMPTY_DATA_WITH_BILL_FILE"

// Bill row kinds: the 业务类型 column of a trade bill.
const (
	BillKindTrade  = "交易" // a payment
	BillKindRefund = "退款" // a refund; its amounts are negative
)

const (
	// maxBillDownload caps a downloaded bill archive, so a broken peer cannot
	// exhaust memory; a busy shop's daily zip is a few MiB.
	maxBillDownload = 64 << 20
	// maxBillFile caps one decompressed file of the archive (a zip bomb guard).
	maxBillFile = 1 << 30
)

// BillURLRequest asks where a bill can be downloaded (§3.8).
type BillURLRequest struct {
	BillType string `json:"bill_type"` // default BillTypeTrade
	BillDate string `json:"bill_date"` // yyyy-MM-dd (daily) or yyyy-MM (monthly), UTC+8
}

// BillURLResponse carries the download address, valid for about 30 seconds.
type BillURLResponse struct {
	Result
	BillDownloadURL string `json:"bill_download_url"`
	BillFileCode    string `json:"bill_file_code,omitempty"`
}

// BillURL calls alipay.data.dataservice.bill.downloadurl.query. A day without
// a bill is OutcomeFailed with sub_code SubBillNotExist; a malformed
// bill_date is rejected here as OutcomeConfig without calling Alipay.
func (c *Client) BillURL(ctx context.Context, req BillURLRequest) (*BillURLResponse, error) {
	if req.BillType == "" {
		req.BillType = BillTypeTrade
	}
	var resp BillURLResponse
	if !validBillDate(req.BillDate) {
		return &resp, &Error{Outcome: OutcomeConfig, Method: MethodBillURL,
			Err: fmt.Errorf("bill_date %q is neither yyyy-MM-dd nor yyyy-MM", req.BillDate)}
	}
	return &resp, c.call(ctx, MethodBillURL, req, "", &resp)
}

func validBillDate(s string) bool {
	for _, layout := range []string{"2006-01-02", "2006-01"} {
		if len(s) == len(layout) {
			if _, err := time.Parse(layout, s); err == nil {
				return true
			}
		}
	}
	return false
}

// DownloadBill fetches a bill archive from a URL that BillURL returned and
// parses it with ParseBillZip. The GET carries ctx, bounded by the client's
// timeout when ctx has no deadline. A bill that does not add up is an error,
// never a partial result. Errors leave the URL out: it carries a token.
func (c *Client) DownloadBill(ctx context.Context, billURL string) (*Bill, error) {
	data, err := c.fetchBill(ctx, billURL)
	if err != nil {
		return nil, fmt.Errorf("alipay: download bill: %w", err)
	}
	bill, err := parseBillZip(data)
	if err != nil {
		return nil, fmt.Errorf("alipay: download bill: %w", err)
	}
	return bill, nil
}

func (c *Client) fetchBill(ctx context.Context, billURL string) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := c.fetchBillTo(ctx, billURL, &buf, maxBillDownload); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// maxBillArchive caps an archive downloaded to a file (DownloadBillTo): a
// million-row day is about 30 MiB.
const maxBillArchive = 1 << 30

// DownloadBillTo streams a bill archive from a URL that BillURL returned
// into w (a temporary file: OpenBillZip then reads it in constant memory)
// and returns its size. Nothing is parsed here. Errors leave the URL out: it
// carries a token.
func (c *Client) DownloadBillTo(ctx context.Context, billURL string, w io.Writer) (int64, error) {
	n, err := c.fetchBillTo(ctx, billURL, w, maxBillArchive)
	if err != nil {
		return n, fmt.Errorf("alipay: download bill: %w", err)
	}
	return n, nil
}

func (c *Client) fetchBillTo(ctx context.Context, billURL string, w io.Writer, limit int64) (int64, error) {
	u, err := url.Parse(billURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, errors.New("the bill URL is not an absolute http(s) URL")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, billURL, nil)
	if err != nil {
		return 0, err
	}
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
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return n, err
	}
	if n > limit {
		return n, fmt.Errorf("bill archive larger than %d MiB", limit>>20)
	}
	return n, nil
}

// Bill is a parsed trade bill whose rows add up to its own totals: Alipay's
// #交易合计 and #退款合计 lines, and the summary file when there is one.
type Bill struct {
	Account      string        // #账号: the 16-digit PID followed by 0156
	Start, End   time.Time     // #起始日期 and #终止日期 (exclusive), UTC+8
	Rows         []BillRow     // in file order
	TradeCount   int           // rows of kind BillKindTrade
	TradeAmount  paygate.Money // sum of the trade rows' ReceiptAmount (商家实收)
	RefundCount  int           // rows of kind BillKindRefund
	RefundAmount paygate.Money // sum of the refund rows' ReceiptAmount: zero or negative
	Summary      *BillSummary  // the 业务明细(汇总) file; nil when parsed from the detail alone
}

// BillRow is one line of the 业务明细 table: a payment or a refund.
type BillRow struct {
	TradeNo       string        // 支付宝交易号
	OutTradeNo    string        // 商户订单号
	Kind          string        // 业务类型: BillKindTrade or BillKindRefund
	Subject       string        // 商品名称
	Created       time.Time     // 创建时间; zero when empty
	Finished      time.Time     // 完成时间: when the payment or refund completed
	BuyerAccount  string        // 对方账户, masked
	TotalAmount   paygate.Money // 订单金额（元）; negative on refund rows
	ReceiptAmount paygate.Money // 商家实收（元）; negative on refund rows
	OutRequestNo  string        // 退款批次号/请求号: the refund's out_request_no
	// Extra holds the other columns that have a value, by header name, such
	// as 门店编号, 服务费（元） or a column newer bills add.
	Extra map[string]string
}

// BillSummary is the 业务明细(汇总) file.
type BillSummary struct {
	Account    string           // #账号; empty when the file has no such line
	Start, End time.Time        // #起始日期 and #终止日期; zero when absent
	Stores     []BillSummaryRow // one per store, in file order
	Total      BillSummaryRow   // the 合计 row
}

// BillSummaryRow is one row of the 业务汇总 table.
type BillSummaryRow struct {
	StoreID       string        // 门店编号; "合计" on the total row
	StoreName     string        // 门店名称
	TradeCount    int           // 交易订单总笔数
	RefundCount   int           // 退款订单总笔数
	TotalAmount   paygate.Money // 订单金额（元）
	ReceiptAmount paygate.Money // 商家实收（元）: payments net of refunds
	NetAmount     paygate.Money // 实收净额（元）; zero when the column is absent
	Extra         map[string]string
}

// Entry names inside the archive (§3.8), compared after decoding.
const (
	billDetailSuffix  = "_业务明细.csv"
	billSummarySuffix = "_业务明细(汇总).csv"
	billSummaryWide   = "_业务明细（汇总）.csv"
)

// ParseBillZip parses the archive Alipay serves: it finds the entry whose
// name (GBK, without the zip UTF-8 flag) ends in _业务明细.csv and parses it
// with ParseBillCSV, then parses the _业务明细(汇总).csv entry if present and
// requires it to agree with the detail: the same account and dates, the same
// trade and refund counts, and 商家实收 equal to payments plus refunds.
func ParseBillZip(data []byte) (*Bill, error) {
	bill, err := parseBillZip(data)
	if err != nil {
		return nil, fmt.Errorf("alipay: %w", err)
	}
	return bill, nil
}

func parseBillZip(data []byte) (*Bill, error) {
	r, err := openBillZip(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.readAll()
}

// OpenBillZip streams the rows of a bill archive read through ra (a file, or
// bytes in memory): the *_业务明细.csv entry is decompressed, decoded and
// parsed as Next asks for rows, never held whole, its CRC-32 checked at its
// end. The *_业务明细(汇总).csv entry, when present, is read first (it is
// small) and must agree with the detail: Next returns io.EOF only once the
// rows add up to both the detail's totals and the summary's, as
// ParseBillZip requires. A large entry is decompressed ahead, at most 1 MiB,
// in a goroutine of its own, so that a second core does that work: ra must
// allow a ReadAt from another goroutine (io.ReaderAt's contract), and Close,
// which releases the entry, also stops that goroutine.
func OpenBillZip(ra io.ReaderAt, size int64) (*BillReader, error) {
	r, err := openBillZip(ra, size)
	if err != nil {
		return nil, fmt.Errorf("alipay: %w", err)
	}
	return r, nil
}

func openBillZip(ra io.ReaderAt, size int64) (*BillReader, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, fmt.Errorf("bill archive: %w", err)
	}
	var detail, summary *zip.File
	var detailName, summaryName string
	for _, f := range zr.File {
		for _, name := range zipEntryNames(f) {
			switch {
			case strings.HasSuffix(name, billDetailSuffix):
				if detail != nil && detail != f {
					return nil, fmt.Errorf("bill archive: two detail files, %q and %q", detailName, name)
				}
				detail, detailName = f, name
			case strings.HasSuffix(name, billSummarySuffix), strings.HasSuffix(name, billSummaryWide):
				if summary != nil && summary != f {
					return nil, fmt.Errorf("bill archive: two summary files, %q and %q", summaryName, name)
				}
				summary, summaryName = f, name
			}
		}
	}
	if detail == nil {
		return nil, fmt.Errorf("bill archive: no file named *%s", billDetailSuffix)
	}
	var s *BillSummary
	if summary != nil {
		raw, err := readZipEntry(summary)
		if err != nil {
			return nil, fmt.Errorf("bill %s: %w", summaryName, err)
		}
		if s, err = parseBillSummary(raw); err != nil {
			return nil, fmt.Errorf("bill %s: %w", summaryName, err)
		}
	}
	if detail.UncompressedSize64 > maxBillFile {
		return nil, fmt.Errorf("bill %s: file larger than %d MiB", detailName, maxBillFile>>20)
	}
	rc, err := detail.Open()
	if err != nil {
		return nil, fmt.Errorf("bill %s: %w", detailName, err)
	}
	// Reading the entry to its end makes archive/zip check the CRC-32; the
	// limit guards against an entry that lies about its size.
	var src io.Reader = io.LimitReader(rc, maxBillFile+1)
	var closer io.Closer = rc
	var prefetch *billPrefetch
	if detail.UncompressedSize64 >= billPrefetchMin {
		prefetch = newBillPrefetch(src)
		src, closer = prefetch, billPrefetchCloser{prefetch, rc}
	}
	r, err := newBillReader(src)
	if err != nil {
		closer.Close()
		return nil, fmt.Errorf("bill %s: %w", detailName, err)
	}
	if prefetch != nil {
		stopWhenUnreachable(r, prefetch)
	}
	r.closer, r.summary, r.where = closer, s, "bill "+detailName
	r.summaryName = summaryName
	return r, nil
}

// zipEntryNames is how f's name may read: as UTF-8 when the entry says so;
// otherwise as GBK (what Alipay writes), and also as UTF-8 when the bytes are
// valid UTF-8, because some tools write UTF-8 without setting the flag.
func zipEntryNames(f *zip.File) []string {
	if f.Flags&0x800 != 0 {
		return []string{f.Name}
	}
	var names []string
	if s, err := simplifiedchinese.GBK.NewDecoder().String(f.Name); err == nil {
		names = append(names, s)
	}
	if utf8.ValidString(f.Name) {
		names = append(names, f.Name)
	}
	return names
}

func readZipEntry(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > maxBillFile {
		return nil, fmt.Errorf("file larger than %d MiB", maxBillFile>>20)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Reading to EOF makes archive/zip check the CRC-32.
	data, err := io.ReadAll(io.LimitReader(rc, maxBillFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBillFile {
		return nil, fmt.Errorf("file larger than %d MiB", maxBillFile>>20)
	}
	return data, nil
}

func checkBillSummary(b *Bill, s *BillSummary) error {
	// §3.8 does not show the summary's head lines; compare them when present.
	switch {
	case s.Account != "" && s.Account != b.Account:
		return fmt.Errorf("account %s, the detail's is %s", s.Account, b.Account)
	case !s.Start.IsZero() && (!s.Start.Equal(b.Start) || !s.End.Equal(b.End)):
		return fmt.Errorf("dates %s to %s, the detail's are %s to %s",
			FormatTime(s.Start), FormatTime(s.End), FormatTime(b.Start), FormatTime(b.End))
	case s.Total.TradeCount != b.TradeCount || s.Total.RefundCount != b.RefundCount:
		return fmt.Errorf("合计 has %d trades and %d refunds, the detail %d and %d",
			s.Total.TradeCount, s.Total.RefundCount, b.TradeCount, b.RefundCount)
	case s.Total.ReceiptAmount != b.TradeAmount+b.RefundAmount:
		// UNCONFIRMED: the summary's 商家实收 is taken to be net of refunds,
		// the sum of the detail's 商家实收 column.
		return fmt.Errorf("合计 商家实收 is %s, the detail's rows net %s",
			s.Total.ReceiptAmount.Yuan(), (b.TradeAmount + b.RefundAmount).Yuan())
	}
	return nil
}
