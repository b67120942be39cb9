package textlang

import "strings"

// IsStopword reports whether w (lower case) is a word that says nothing
// about what a text is about (English and German).
func IsStopword(w string) bool { return stopwords[w] }

// IsCJKFunction reports whether r is a Chinese character that makes
// grammar rather than meaning: a particle, pronoun, question word or light
// verb.
func IsCJKFunction(r rune) bool { return cjkFunction[r] }

// stopwords are the words that say nothing about what a query is
// about: function words, question words and the talk around a question
// ("can you tell me what I said about …"), in English and German. A query
// made only of them has no lexical support anywhere.
var stopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
		a about above after again against all also am an and any are aren as at be because been before
		being below between both but by can cannot could couldn did didn do does doesn doing don down
		during each either else ever every few for from further get gets got had hadn has hasn have
		haven having he her here hers herself him himself his how however i if in into is isn it its
		itself just let me might mine more most much must mustn my myself neither no nor not now of off
		on once only or other ought our ours ourselves out over own please same shall shan she should
		shouldn so some such than that the their theirs them themselves then there these they this
		those through thus to too under until up upon us very was wasn we were weren what whats when
		whenever where whereas wherever whether which while who whoever whom whose why will with won
		would wouldn yet you your yours yourself yourselves ok okay hey hi hello thanks thank
		tell know knew remember recall recalled said say says told mention mentioned ask asked
		anything something everything nothing someone anyone thing things really actually maybe
		many lot lots get gets got getting make makes made making keep keeps kept keeping take takes
		took taking give gives gave giving put puts go goes went going come comes came done way ways
		best good better great nice suggest suggests recommend recommends
		ll re ve
		der die das den dem des ein eine einen einem einer eines und oder aber doch denn sondern
		ist sind war waren bin bist sein seid wird werden wurde wurden hat habe hast haben hatte
		hatten kann kannst können konnte muss müssen soll sollen will wollen mag möchte
		ich du er sie es wir ihr mich dich sich uns euch mir dir ihm ihnen mein meine meinen meinem
		meiner dein deine sein seine ihre ihren unser unsere euer
		wie was wer wen wem wessen wo wohin woher wann warum weshalb welche welcher welches welchen
		im in am an auf aus bei mit nach von vor zu zum zur für über unter durch gegen ohne um bis
		nicht kein keine keinen noch schon auch nur sehr so da dann hier dort man mal ja nein bitte
		danke weißt erinnerst gesagt erzählt`) {
		stopwords[w] = true
	}
}

// cjkFunction are Chinese characters that make grammar rather than meaning
// (particles, pronouns, question words, light verbs): a bigram with one of
// them is not evidence that two texts share a topic.
var cjkFunction = map[rune]bool{}

func init() {
	for _, r := range "的了是吗呢吧啊呀嘛在我你您他她它们这那么什怎哪谁个和与也都就还又把被给对从到为要会能可以该有没不很太多少几吗呢之其或及而且并" {
		cjkFunction[r] = true
	}
}
