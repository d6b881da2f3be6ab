package openai

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// Each number of a float vector is the shortest text that reads back as the
// same float32: what Bedrock wrote, and what encoding/json writes for a
// float32, never the float64 expansion of the float32.
func TestVectorFloatsShortest(t *testing.T) {
	values := []float32{-0.2819426, 0.1, 0, 1, -1, 0.5, 1e-7, -3.4028235e38, 1.0000001, 123456.79, 1e21, math.SmallestNonzeroFloat32}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		values = append(values, float32(rng.NormFloat64()*0.05))
	}
	got, err := json.Marshal(Vector{Values: values})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(values) // encoding/json's float32 form
	if string(got) != string(want) {
		t.Fatalf("vector written as\n%.300s\nwant\n%.300s", got, want)
	}
	if !strings.HasPrefix(string(got), "[-0.2819426,0.1,0,1,-1,0.5,1e-7,") {
		t.Errorf("vector starts %.60s", got)
	}
	var back []float64
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	for i, f := range back {
		if float32(f) != values[i] {
			t.Fatalf("value %d reads back as %v, want %v", i, float32(f), values[i])
		}
	}
}

// A 1,024-value vector, as Titan Embeddings V2 and Cohere v3 return: the
// bytes of its JSON list are reported as bytes/vector.
func BenchmarkVectorJSON1024(b *testing.B) {
	v := Vector{Values: benchVector(1024)}
	var n int
	for b.Loop() {
		out, err := v.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.ReportMetric(float64(n), "bytes/vector")
}

// benchVector is a unit vector of n values, spread as model embeddings are.
func benchVector(n int) []float32 {
	rng := rand.New(rand.NewPCG(7, 11))
	v := make([]float32, n)
	var norm float64
	for i := range v {
		v[i] = float32(rng.NormFloat64())
		norm += float64(v[i]) * float64(v[i])
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(norm))
	}
	return v
}

// The size of that vector's list against the float64 form each value had
// before: logged for the record (go test -v -run TestVectorJSONSize).
func TestVectorJSONSize(t *testing.T) {
	v := benchVector(1024)
	short, err := Vector{Values: v}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	long := []byte{'['}
	for i, f := range v {
		if i > 0 {
			long = append(long, ',')
		}
		long = strconv.AppendFloat(long, float64(f), 'g', -1, 64)
	}
	long = append(long, ']')
	t.Logf("1,024 floats: %d bytes as float32 text, %d as float64 text (%.2fx)", len(short), len(long), float64(len(long))/float64(len(short)))
	if len(short)*3 > len(long)*2 {
		t.Errorf("float32 text %d bytes is not well under the float64 text's %d", len(short), len(long))
	}
}
