package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paygate/paygate/alipay"
)

// alipayCalls are the methods `paygate alipay` sends: each reads its
// biz_content strictly and calls the client's typed method, so the answer
// is verified as paygate verifies every answer.
var alipayCalls = map[string]func(cmd *cobra.Command, c *alipay.Client, biz []byte) (any, error){
	alipay.MethodPrecreate: func(cmd *cobra.Command, c *alipay.Client, biz []byte) (any, error) {
		var req alipay.PrecreateRequest
		if err := strictBiz(biz, &req); err != nil {
			return nil, err
		}
		return c.Precreate(cmd.Context(), req)
	},
	alipay.MethodQuery: func(cmd *cobra.Command, c *alipay.Client, biz []byte) (any, error) {
		var req alipay.TradeRef
		if err := strictBiz(biz, &req); err != nil {
			return nil, err
		}
		return c.Query(cmd.Context(), req)
	},
	alipay.MethodRefund: func(cmd *cobra.Command, c *alipay.Client, biz []byte) (any, error) {
		var req alipay.RefundRequest
		if err := strictBiz(biz, &req); err != nil {
			return nil, err
		}
		return c.Refund(cmd.Context(), req)
	},
	alipay.MethodRefundQuery: func(cmd *cobra.Command, c *alipay.Client, biz []byte) (any, error) {
		var req alipay.RefundQueryRequest
		if err := strictBiz(biz, &req); err != nil {
			return nil, err
		}
		return c.RefundQuery(cmd.Context(), req)
	},
	alipay.MethodClose: func(cmd *cobra.Command, c *alipay.Client, biz []byte) (any, error) {
		var req alipay.CloseRequest
		if err := strictBiz(biz, &req); err != nil {
			return nil, err
		}
		return c.Close(cmd.Context(), req)
	},
}

func strictBiz(biz []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(biz))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("alipay: biz_content: %w", err)
	}
	return nil
}

func newAlipayCmd(stdout, _ io.Writer) *cobra.Command {
	var d dataFlags
	methods := make([]string, 0, len(alipayCalls))
	for m := range alipayCalls {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	cmd := &cobra.Command{
		Use:   "alipay METHOD BIZ_CONTENT_JSON [--config FILE | --data DIR]",
		Short: "Make one signed Alipay OpenAPI call with the app's key (ask Alipay about a trade by hand)",
		Long: "Sign one Alipay OpenAPI request with the configured app key, send it to the configured\n" +
			"gateway (with --data, the demo's simulator), verify the answer and print it as JSON. For an\n" +
			"operator looking into a reconciliation difference (alipay.trade.query by trade_no), or for\n" +
			"making, in the demo, a trade outside paygate on the same app. Methods: " + strings.Join(methods, ", ") + ".\n\n" +
			"  paygate alipay alipay.trade.query '{\"trade_no\":\"2026113022001...\"}'\n" +
			"  paygate alipay alipay.trade.precreate '{\"out_trade_no\":\"COUNTER_1\",\"total_amount\":\"12.34\",\"subject\":\"counter sale\"}' --data paygate-data",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			call, ok := alipayCalls[args[0]]
			if !ok {
				return fmt.Errorf("alipay: method must be one of %s", strings.Join(methods, ", "))
			}
			cfg, err := d.resolve()
			if err != nil {
				return err
			}
			client, err := newChannel(cfg)
			if err != nil {
				return err
			}
			resp, err := call(cmd, client, []byte(args[1]))
			if err != nil {
				return err
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(resp)
		},
	}
	d.register(cmd)
	return cmd
}
