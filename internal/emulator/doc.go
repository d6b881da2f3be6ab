// Package emulator owns a wire-true stand-in for the Bedrock runtime API: SigV4 checks, Bedrock's
// error shape, Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream for each model
// family, an STS endpoint, plus scripts and faults for tests.
// It must not import Strata's gateway packages or relax the wire format: what works here must work on AWS.
package emulator
