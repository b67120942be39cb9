package static

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// tokenModel turns one pre-tokenised word into token ids, appended to dst.
type tokenModel interface {
	tokenize(dst []int32, word string) []int32
	// unkID is the id the reference drops from every text (-1: none).
	dropID() int32
	vocab() map[string]int32
}

func parseModel(raw json.RawMessage) (tokenModel, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	switch head.Type {
	case "WordPiece":
		var w struct {
			UnkToken                string           `json:"unk_token"`
			ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
			MaxInputCharsPerWord    *int             `json:"max_input_chars_per_word"`
			Vocab                   map[string]int32 `json:"vocab"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf("model WordPiece: %w", err)
		}
		m := &wordPiece{vocabMap: w.Vocab, prefix: "##", maxChars: 100, unk: -1}
		if w.ContinuingSubwordPrefix != nil {
			m.prefix = *w.ContinuingSubwordPrefix
		}
		if w.MaxInputCharsPerWord != nil {
			m.maxChars = *w.MaxInputCharsPerWord
		}
		id, ok := w.Vocab[w.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model WordPiece: unk_token %q is not in the vocabulary", w.UnkToken)
		}
		m.unk = id
		return m, nil
	case "Unigram":
		var u struct {
			UnkID        *int32               `json:"unk_id"`
			Vocab        [][2]json.RawMessage `json:"vocab"`
			ByteFallback bool                 `json:"byte_fallback"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			return nil, fmt.Errorf("model Unigram: %w", err)
		}
		m := &unigram{vocabMap: make(map[string]int32, len(u.Vocab)), scores: make([]float64, len(u.Vocab)),
			unk: -1, byteFallback: u.ByteFallback, minScore: math.Inf(1)}
		for i, e := range u.Vocab {
			var tok string
			var score float64
			if err := json.Unmarshal(e[0], &tok); err != nil {
				return nil, fmt.Errorf("model Unigram: vocab entry %d: %w", i, err)
			}
			if err := json.Unmarshal(e[1], &score); err != nil {
				return nil, fmt.Errorf("model Unigram: vocab entry %d: %w", i, err)
			}
			m.vocabMap[tok] = int32(i) // a repeated piece: the last wins, as in the reference
			m.scores[i] = score
			m.minScore = math.Min(m.minScore, score)
			m.maxLen = max(m.maxLen, len(tok))
		}
		if u.UnkID != nil {
			if *u.UnkID < 0 || int(*u.UnkID) >= len(u.Vocab) {
				return nil, fmt.Errorf("model Unigram: unk_id %d is outside the vocabulary", *u.UnkID)
			}
			m.unk = *u.UnkID
		}
		return m, nil
	case "":
		return nil, &UnsupportedError{Part: "model", Name: "(no type)"}
	}
	return nil, &UnsupportedError{Part: "model", Name: head.Type}
}

// wordPiece is greedy longest-match-first WordPiece: a word longer than
// maxChars, or one that cannot be covered by vocabulary pieces, becomes the
// unknown token.
type wordPiece struct {
	vocabMap map[string]int32
	prefix   string
	maxChars int
	unk      int32
}

func (w *wordPiece) dropID() int32           { return w.unk }
func (w *wordPiece) vocab() map[string]int32 { return w.vocabMap }

func (w *wordPiece) tokenize(dst []int32, word string) []int32 {
	if utf8.RuneCountInString(word) > w.maxChars {
		return append(dst, w.unk)
	}
	if id, ok := w.vocabMap[word]; ok { // the common case: a whole word
		return append(dst, id)
	}
	n := len(dst)
	var buf [128]byte
	scratch := append(buf[:0], w.prefix...)
	for start := 0; start < len(word); {
		end := len(word)
		found := int32(-1)
		for start < end {
			var id int32
			var ok bool
			if start == 0 {
				id, ok = w.vocabMap[word[:end]]
			} else {
				scratch = append(scratch[:len(w.prefix)], word[start:end]...)
				id, ok = w.vocabMap[string(scratch)]
			}
			if ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			return append(dst[:n], w.unk)
		}
		dst = append(dst, found)
		start = end
	}
	return dst
}

// unigram is the Unigram language model: the segmentation with the best
// total score (Viterbi), characters no piece covers scoring as unknown at
// the lowest score minus 10, runs of unknowns fused into one.
type unigram struct {
	vocabMap     map[string]int32
	scores       []float64
	unk          int32
	byteFallback bool
	minScore     float64
	maxLen       int // longest piece, in bytes
}

// The reference's Python binding gives a Unigram model no unk_token, so
// model2vec keeps unknown pieces of Unigram tokenizers (they are averaged
// in like any other token).
func (u *unigram) dropID() int32           { return -1 }
func (u *unigram) vocab() map[string]int32 { return u.vocabMap }

const unkPenalty = 10.0

type bestNode struct {
	id       int32
	score    float64
	startsAt int // -1: not reached
}

func (u *unigram) tokenize(dst []int32, s string) []int32 {
	if s == "" {
		return dst
	}
	nodes := make([]bestNode, len(s)+1)
	for i := range nodes {
		nodes[i].startsAt = -1
	}
	unkScore := u.minScore - unkPenalty
	for start := 0; start < len(s); {
		base := nodes[start].score
		_, mblen := utf8.DecodeRuneInString(s[start:])
		single := false
		for end := start + 1; end <= len(s) && end-start <= u.maxLen; end++ {
			if end < len(s) && !utf8.RuneStart(s[end]) {
				continue
			}
			id, ok := u.vocabMap[s[start:end]]
			if !ok {
				continue
			}
			cand := u.scores[id] + base
			if t := &nodes[end]; t.startsAt < 0 || cand > t.score {
				t.score, t.startsAt, t.id = cand, start, id
			}
			if end-start == mblen {
				single = true
			}
		}
		if !single {
			cand := unkScore + base
			if t := &nodes[start+mblen]; t.startsAt < 0 || cand > t.score {
				t.score, t.startsAt, t.id = cand, start, u.unk
			}
		}
		start += mblen
	}
	// Walk back from the end; pieces come out reversed.
	n := len(dst)
	unkEnd := -1 // end of the current run of unknowns
	for end := len(s); end > 0; {
		node := nodes[end]
		if node.id == u.unk && u.unk >= 0 || node.id < 0 {
			if unkEnd < 0 {
				unkEnd = end
			}
		} else {
			if unkEnd >= 0 {
				dst = u.appendUnknown(dst, s[end:unkEnd])
				unkEnd = -1
			}
			dst = append(dst, node.id)
		}
		end = node.startsAt
	}
	if unkEnd >= 0 {
		dst = u.appendUnknown(dst, s[:unkEnd])
	}
	for i, j := n, len(dst)-1; i < j; i, j = i+1, j-1 {
		dst[i], dst[j] = dst[j], dst[i]
	}
	return dst
}

// appendUnknown appends the ids of a fused run of unknown text — in reverse
// order, as tokenize builds its result backwards.
func (u *unigram) appendUnknown(dst []int32, text string) []int32 {
	if id, ok := u.vocabMap[text]; ok {
		return append(dst, id)
	}
	if u.byteFallback {
		ids := make([]int32, 0, len(text))
		for i := 0; i < len(text); i++ {
			id, ok := u.vocabMap[fmt.Sprintf("<0x%02X>", text[i])]
			if !ok {
				ids = nil
				break
			}
			ids = append(ids, id)
		}
		if ids != nil {
			for i := len(ids) - 1; i >= 0; i-- {
				dst = append(dst, ids[i])
			}
			return dst
		}
	}
	if u.unk < 0 {
		return dst // no unknown token to stand for it
	}
	return append(dst, u.unk)
}
