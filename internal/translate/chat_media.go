package translate

import (
	"encoding/base64"
	"net/http"
	"path"
	"strings"

	"github.com/strata-gateway/strata/internal/bedrock"
	"github.com/strata-gateway/strata/internal/openai"
)

// imageFormats maps image media types to Converse image formats.
var imageFormats = map[string]string{
	"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
	"image/gif": "gif", "image/webp": "webp",
}

// documentFormats maps document media types and file extensions to
// Converse document formats.
var documentFormats = map[string]string{
	"application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.ms-excel": "xls",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
	"text/html": "html", "text/plain": "txt", "text/markdown": "md",
	".pdf": "pdf", ".csv": "csv", ".doc": "doc", ".docx": "docx", ".xls": "xls",
	".xlsx": "xlsx", ".html": "html", ".htm": "html", ".txt": "txt", ".md": "md",
}

// ImageFormat returns the Converse format of an image, from its declared
// media type or, failing that, its first bytes. ok is false for formats
// Bedrock does not take.
func ImageFormat(mediaType string, data []byte) (format string, ok bool) {
	mediaType = strings.ToLower(strings.TrimSpace(strings.SplitN(mediaType, ";", 2)[0]))
	if f, ok := imageFormats[mediaType]; ok {
		return f, true
	}
	f, ok := imageFormats[http.DetectContentType(data)]
	return f, ok
}

// parseDataURL splits "data:<type>;base64,<data>" into its media type and
// decoded bytes.
func parseDataURL(u string) (mediaType string, data []byte, ok bool) {
	rest, found := strings.CutPrefix(u, "data:")
	if !found {
		return "", nil, false
	}
	meta, payload, found := strings.Cut(rest, ",")
	if !found {
		return "", nil, false
	}
	mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
	if !isBase64 {
		return "", nil, false
	}
	data, err := decodeBase64(payload)
	if err != nil {
		return "", nil, false
	}
	return mediaType, data, true
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if data, err := base64.StdEncoding.DecodeString(s); err == nil {
		return data, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// imageBlockFromURL converts an image part. Remote (http/https) images are
// fetched by the server before translation and arrive here as data: URLs.
func imageBlockFromURL(u, field string) (*bedrock.ImageBlock, error) {
	mediaType, data, ok := parseDataURL(u)
	if !ok {
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") {
			return nil, openai.InvalidRequest(field+".image_url.url", "%s: remote image was not fetched", field)
		}
		return nil, openai.InvalidRequest(field+".image_url.url", "%s: image_url.url must be an http(s) URL or a base64 data: URL", field)
	}
	format, ok := ImageFormat(mediaType, data)
	if !ok {
		return nil, openai.InvalidRequest(field+".image_url.url", "%s: image type %q is not supported; Bedrock takes png, jpeg, gif and webp", field, mediaType)
	}
	return &bedrock.ImageBlock{Format: format, Source: bedrock.ImageSource{Bytes: data}}, nil
}

// documentBlockFromFile converts a file part carrying inline data.
func documentBlockFromFile(f *openai.File, field string) (*bedrock.DocumentBlock, error) {
	if f == nil || f.FileData == "" {
		if f != nil && f.FileID != "" {
			return nil, openai.InvalidRequest(field+".file.file_id", "%s: file_id references are not supported; send the file inline as file_data", field)
		}
		return nil, openai.InvalidRequest(field+".file.file_data", "%s: file.file_data is required", field)
	}
	mediaType, data, ok := parseDataURL(f.FileData)
	if !ok {
		var err error
		if data, err = decodeBase64(f.FileData); err != nil {
			return nil, openai.InvalidRequest(field+".file.file_data", "%s: file_data must be a base64 data: URL or base64", field)
		}
	}
	format := documentFormats[strings.ToLower(mediaType)]
	if format == "" {
		format = documentFormats[strings.ToLower(path.Ext(f.Filename))]
	}
	if format == "" && f.Format != "" {
		format = documentFormats[strings.ToLower(f.Format)]
	}
	if format == "" {
		return nil, openai.InvalidRequest(field+".file", "%s: document type %q is not supported; Bedrock takes pdf, csv, doc, docx, xls, xlsx, html, txt and md", field, mediaType)
	}
	return &bedrock.DocumentBlock{Format: format, Name: documentName(f.Filename), Source: bedrock.DocumentSource{Bytes: data}}, nil
}

// documentName makes a name Bedrock accepts: letters, digits, spaces,
// hyphens, parentheses and brackets, with no consecutive spaces.
func documentName(filename string) string {
	base := strings.TrimSuffix(path.Base(filename), path.Ext(filename))
	var b strings.Builder
	lastSpace := false
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '(', r == ')', r == '[', r == ']':
			b.WriteRune(r)
			lastSpace = false
		default:
			if !lastSpace && b.Len() > 0 {
				b.WriteByte(' ')
				lastSpace = true
			}
		}
	}
	name := strings.TrimSpace(b.String())
	if name == "" || filename == "" {
		return "document"
	}
	return name
}
