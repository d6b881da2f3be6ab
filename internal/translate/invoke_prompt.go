package translate

import "strings"

// Prompt formats for the native bodies that take one prompt string. Each
// renders the system text and the turns the way the family was trained to
// read them, and ends where the model's answer begins. A conversation that
// ends with an assistant turn is left open, so the model continues it.

// llama3Prompt is Meta's Llama 3 chat format (header tokens and <|eot_id|>).
func llama3Prompt(c *conversation) string {
	var b strings.Builder
	b.WriteString("<|begin_of_text|>")
	header := func(role string) {
		b.WriteString("<|start_header_id|>" + role + "<|end_header_id|>\n\n")
	}
	if c.system != "" {
		header("system")
		b.WriteString(c.system + "<|eot_id|>")
	}
	for i, t := range c.turns {
		header(t.role)
		b.WriteString(t.text)
		if i == len(c.turns)-1 && t.role == "assistant" {
			return b.String()
		}
		b.WriteString("<|eot_id|>")
	}
	header("assistant")
	return b.String()
}

// llama2Prompt is Meta's Llama 2 chat format: [INST] blocks, the system
// prompt inside the first one between <<SYS>> markers.
func llama2Prompt(c *conversation) string {
	var b strings.Builder
	system := c.system
	open := false // an [INST] block awaits its answer
	for i, t := range c.turns {
		if t.role == "user" {
			b.WriteString("<s>[INST] ")
			if system != "" {
				b.WriteString("<<SYS>>\n" + system + "\n<</SYS>>\n\n")
				system = ""
			}
			b.WriteString(t.text + " [/INST]")
			open = true
			continue
		}
		if !open { // an answer with no question before it
			b.WriteString("<s>[INST]  [/INST]")
		}
		b.WriteString(" " + t.text)
		if i < len(c.turns)-1 {
			b.WriteString(" </s>")
		}
		open = false
	}
	return b.String()
}

// mistralPrompt is Mistral's instruct format. It has no system role: the
// system text opens the first instruction.
func mistralPrompt(c *conversation) string {
	var b strings.Builder
	b.WriteString("<s>")
	system := c.system
	for i, t := range c.turns {
		if t.role == "user" {
			b.WriteString("[INST] ")
			if system != "" {
				b.WriteString(system + "\n\n")
				system = ""
			}
			b.WriteString(t.text + " [/INST]")
			continue
		}
		b.WriteString(" " + t.text)
		if i < len(c.turns)-1 {
			b.WriteString("</s>")
		}
	}
	return b.String()
}

// transcriptPrompt is the plain dialogue format of the completion models
// (Titan Text, Cohere Command, Jurassic-2): the system text as a preamble,
// then "User: ..." and "<assistant>: ..." lines, ending with the
// assistant's label for the model to complete.
func transcriptPrompt(c *conversation, user, assistant string) string {
	var b strings.Builder
	if c.system != "" {
		b.WriteString(c.system + "\n\n")
	}
	for i, t := range c.turns {
		label := user
		if t.role == "assistant" {
			label = assistant
		}
		b.WriteString(label + ": " + t.text)
		if i == len(c.turns)-1 && t.role == "assistant" {
			return b.String()
		}
		b.WriteByte('\n')
	}
	b.WriteString(assistant + ":")
	return b.String()
}
