package conformance

// What Vault's HTTP layer makes of a plugin's HandleRequestReply: the status code a client would see, the error
// text, the data object, and the raw body of raw responses. These are the rules of Vault's
// logical.RespondErrorCommon and http/logical.go, re-stated here so that every check can be phrased as
// "a Vault client would get 400".

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"

	"pkiwire/pb"
)

// sdk/plugin/pb translation error types.
const (
	errTypeUnknown              = 0
	errTypeUserError            = 1
	errTypeInternalError        = 2
	errTypeCodedError           = 3
	errTypeStatusBadRequest     = 4
	errTypeUnsupportedOperation = 5
	errTypeUnsupportedPath      = 6
	errTypeInvalidRequest       = 7
	errTypePermissionDenied     = 8
)

// vaultResult is what a Vault client receives for one request.
type vaultResult struct {
	status      int
	errorText   string                 // for 4xx/5xx
	data        map[string]interface{} // JSON responses
	warnings    []string
	rawBody     []byte // raw responses (http_raw_body decoded)
	contentType string // raw responses
}

// decodeData parses a Response.data string. Vault always unmarshals it when a response is present: "" breaks.
func decodeData(text string) (map[string]interface{}, error) {
	if text == "" {
		return nil, fmt.Errorf("response data is empty: Vault fails to unmarshal it (send \"{}\" or \"null\")")
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.UseNumber()
	var m map[string]interface{}
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("response data %q is not a JSON object: %v", text, err)
	}
	return m, nil
}

// isErrorData is logical.Response.IsError: data with only "error", or "error" and "data".
func isErrorData(d map[string]interface{}) bool {
	if _, ok := d["error"]; !ok {
		return false
	}
	_, hasData := d["data"]
	return len(d) == 1 || (len(d) == 2 && hasData)
}

// vaultOutcome maps a reply as Vault does for a request with operation op.
func vaultOutcome(op string, reply *pb.HandleRequestReply) (*vaultResult, error) {
	res := &vaultResult{}
	var data map[string]interface{}
	if reply.Response != nil {
		var err error
		if data, err = decodeData(reply.Response.Data); err != nil {
			return nil, err
		}
		res.warnings = reply.Response.Warnings
	}
	// An error response wins over the error type: 400 with its text.
	if reply.Response != nil && isErrorData(data) {
		res.status = http.StatusBadRequest
		res.errorText = fmt.Sprint(data["error"])
		return res, nil
	}
	if reply.Err != nil {
		res.status = statusOfError(reply.Err, reply.Response != nil)
		res.errorText = reply.Err.ErrMsg
		return res, nil
	}
	if reply.Response == nil {
		if op == "read" || op == "list" {
			res.status = http.StatusNotFound
		} else {
			res.status = http.StatusNoContent
		}
		return res, nil
	}
	if code, ok := data["http_status_code"]; ok {
		return rawOutcome(res, code, data)
	}
	res.data = data
	switch {
	case op == "list" && !hasKeys(data):
		res.status = http.StatusNotFound
	case len(data) == 0 && len(res.warnings) == 0:
		res.status = http.StatusNoContent
	default:
		res.status = http.StatusOK
	}
	return res, nil
}

func statusOfError(e *pb.ProtoError, withResponse bool) int {
	switch e.ErrType {
	case errTypeCodedError:
		return int(e.ErrCode)
	case errTypeStatusBadRequest, errTypeInvalidRequest:
		return http.StatusBadRequest
	case errTypePermissionDenied:
		return http.StatusForbidden
	case errTypeUnsupportedOperation:
		return http.StatusMethodNotAllowed
	case errTypeUnsupportedPath:
		return http.StatusNotFound
	}
	if withResponse {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func hasKeys(data map[string]interface{}) bool {
	keys, ok := data["keys"].([]interface{})
	return ok && len(keys) > 0
}

// rawOutcome decodes a raw response: http_status_code (a number), http_content_type, http_raw_body (base64 of the
// bytes; Vault falls back to the string itself when it is not base64).
func rawOutcome(res *vaultResult, code interface{}, data map[string]interface{}) (*vaultResult, error) {
	n, ok := code.(json.Number)
	if !ok {
		return nil, fmt.Errorf("http_status_code is %T, want a JSON number", code)
	}
	status, err := n.Int64()
	if err != nil {
		return nil, fmt.Errorf("http_status_code %q: %v", n, err)
	}
	res.status = int(status)
	if ct, ok := data["http_content_type"].(string); ok {
		res.contentType = ct
	} else if status != http.StatusNoContent {
		return nil, fmt.Errorf("raw response without a string http_content_type: %v", data)
	}
	if body, ok := data["http_raw_body"].(string); ok {
		if decoded, err := base64.StdEncoding.DecodeString(body); err == nil {
			res.rawBody = decoded
		} else {
			res.rawBody = []byte(body)
		}
	}
	return res, nil
}
