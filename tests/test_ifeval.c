// test_ifeval.c: srl's IFEval checkers (ifeval.c) against IFEval's own unit tests
// (google-research instruction_following_eval/instructions_test.py), ported as a table of cases:
// the instruction id, its kwargs, the response, and the verdict the official test asserts. Then
// the loose variants, the kwargs and data-file errors, and, with SRL_FIXTURES set, srl's sentence
// and capital-word counts against NLTK's on GPT-4's 541 released responses (tests/ref/
// ifeval_nltk.jsonl, made by tools/ifeval_reference.py) and GPT-4's four scores against the
// IFEval paper's Table 3.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "../ifeval.h"
#include "../util.h"

typedef struct {
    const char *test;       // the official test it comes from
    const char *id;
    const char *kwargs;     // JSON
    const char *response;
    int verdict;            // IFEVAL_FOLLOWED / NOT_FOLLOWED / NOT_CHECKED / REFUSED
} Case;

enum { Y = IFEVAL_FOLLOWED, N = IFEVAL_NOT_FOLLOWED, NC = IFEVAL_NOT_CHECKED, RF = IFEVAL_REFUSED };

#define BULLET_1 "\n  A Markdown bullet point is a way of formatting text to create a list. To\n  create a bullet point, start each line with an asterisk (*). For example:\n  * This is a bullet point.\n  *(no space required)Another bullet point.\n  * (no newline ending required)Another bullet point.\n  markdown bullet points are often used to create to-do lists or to list items\n  in a step-by-step guide."
#define BULLET_2 "\n  Check that inline asterisk (*), *, will not be counted. Only * that starts a\n  bullet list will be counted:\n    * This is a bullet point.\n    * Another bullet point.\n    . dot is not counted"
#define BULLET_3 "\n  Here are three bullets starting with asterisk:\n  * I am a large language model, also known as a conversational AI.\n  * I am trained on a massive amount of text data, and I am able to communicate.\n  * I am still under development, but I am learning new things every day."
#define BULLET_4 "\n  Here are three markdown bullets:\n  - I am a large language model, also known as a conversational AI.\n  - I am trained on a massive amount of text data, and I am able to communicate.\n  -I am still under development, but I am learning new things every day."
#define BULLET_5 "\n  Paragraph 1\n  ***\n  Paragraph 2\n  ***\n  Paragraph 3\n  * only one bullet point\n  "
#define HIGHLIGHT_1 "\n  To highlight text with Markdown, you can use the * character before and after\n  the text you want to highlight. For example, if you want to highlight the\n  word `hello`, you would type:*hello*, You can also use the ** character to\n  create bold text. For example, if you want to bold the word `hello`, you\n  would type: **hello** "
#define HIGHLIGHT_2 "\n  Sure, here are the numerical methods for solving partial differential\n  equations highlighted with Markdown:\n  *Finite difference methods\n  *Finite element methods*\n  *Boundary element methods\n  *Monte Carlo methods\n  I hope this helps!"
#define HIGHLIGHT_3 "\n  There is allowed to be *two different* highlighted *sections in the same*\n  line. **This is also true** for **double markdown highlights.**\n  "
#define SECTION_1 "\n  Your response must have multiple sections. Mark the beginning of each section\n  with \"Section X\", such as:\n  Section 1\n  [content of section 1]\n  Section 2\n  [content of section 2]"
#define SECTION_2 "SECTION 1\n  [content of section 1]\n  SECTION 2\n  [content of section 2]"
#define PARAGRAPH_1 "\n  paragraph 1\n  ***\n  paragraph 2\n  ***\n  paragraph 3"
#define PARAGRAPH_2 "\n          ***\n  paragraph 1\n          ***\n      paragraph 2\n          ***\n      paragraph 3"
#define PARAGRAPH_3 "\n  paragraph 1\n          ***\n      paragraph 2\n          ***\n      paragraph 3\n          ***"
#define PARAGRAPH_4 "\n  paragraph 1\n          ***\n      paragraph 2\n          ***\n          ***"
#define POSTSCRIPT_1 "\n  I will do my best to follow your instructions and always start my responses\n  with \"My response is:\". I will try to be as consistent as possible, but\n  please be patient with me if I make a mistake. I am still under development,\n  and I am always learning new things.\n\n  P.S. I hope this is what you were looking for."
#define POSTSCRIPT_2 "\n  Sure, here is my response with a postscript starting with P.P.S.:\n\n  My response is: I hope this answers your question.\n\n  P.P.S. I am always happy to answer any other questions you may have.\n\n  Do you have any other questions for me?"
#define POSTSCRIPT_3 "\n  The radius of a unit circle is 1. However, I can give you a funny and wrong\n  answer: the radius of a unit circle is 0. This is because a unit circle is a\n  circle with a radius of 1, and if the radius is 0, then the circle has no\n  size and is just a point. (not starting a new line) P.S. I hope you enjoyed\n  my joke!"
#define POSTSCRIPT_4 "\n  If the length of a square is one, the area of the square will also be one.\n  p.p.s what if the entire response was lower case letters?\n  "
#define POSTSCRIPT_5 "\n  The mysteries of space and time are mysterious.\n  P. S. Sometimes there are even spaces between P. and S..\n  "
#define START_1 "\n  My response is: ASIC is a specialized chip for specific tasks in electronic\n  devices, offering advantages in efficiency and processing speed."
#define START_2 "\n        My response is: ASIC is a specialized chip for specific tasks in\n  electronic\n  devices, offering advantages in efficiency and processing speed."
#define START_3 "\n  An ASIC, or Application-Specific Integrated Circuit, is a type of specialized\n  chip that, my response is, is designed to perform specific tasks in electronic\n  devices."
#define KEYWORD_1 "\n  Paris is a city of beauty and romance. The romantic river Seine winds its way\n  through the city, past iconic landmarks like the Eiffel Tower and the Louvre\n  Museum, where the Mona Lisa resides. Whether you're taking a boat cruise down\n  the river or simply strolling along the banks, you're sure to be captivated\n  by the city's charm."
#define KEYWORD_2 "\n  Paris is a city of beauty, romance, and history. It is home to some of the\n  most iconic landmarks in the world, including the Eiffel Tower, the Louvre\n  Museum, and the Notre Dame Cathedral. The city is also known for its romantic\n  river cruises, its delicious food, and its stylish people.\n  "
#define FREQ_1 "\n  keyword, Keyword, KEYWORD\n  "
#define FREQ_2 "\n    *keyword\n    *Keyword\n    *KEYWORD\n  "
#define WORDS_1 "\n  d3sCRi7 lArge lAnguagE M0del w1tH 20 w0RdS."
#define WORDS_2 "\n  L4RGE L4NGU4GE M0DEL: AI syst3m th4t und3rstands, g3n3r4tes, or tr4nsforms\n  l4ngu4g3 b4s3d on pr3vious l3arning & d4t4."
#define FIRST_1 "\n  paragraph 1\n\n  I paragraph 2\n\n  paragraph 3"
#define FIRST_2 "\n  paragraph 1\n\n  I paragraph 2"
#define FIRST_3 "\n  paragraph 1\n\n  fail paragraph 2\n\n  paragraph 3"
#define FIRST_4 "\n  Wow this is a very long response.\n\n  I can't believe there is more than three paragraphs.\n\n  Really more than three? No way!\n\n  I can't believe it but I guess I am living proof.\n\n  Haha, you go that right."
#define FIRST_5 "\n  Wow this is a very long response.\n\n  I can't believe there is more than three paragraphs.\n\n  \"Really?! more than three? No way!\"\n\n  I can't believe it but I guess I am living proof.\n\n  Haha, you go that right."
#define FIRST_6 "\n  Wow this is a very long response.\n\n  I can't believe there is more than three paragraphs.\n\n  Rea!lly more than three? No way!\n\n  I can't believe it but I guess I am living proof.\n\n  Haha, you go that right."
#define KEY_SENT_1 "\n  Puppies are fun. They are playful, energetic, and always up for a good time.\nPuppies love to run, jump, and play fetch. They are also very good at\ncuddling and giving kisses. If you are looking for a fun and loving pet,\na puppy is a great choice.\n  "
#define KEY_SENT_2 "\n  I like to eat candy. When I'm feeling happy, sad, or even angry, candy\nalways makes me feel better. I like to share candy with my friends and\nfamily. It's a great way to show them how much I care.\n  "
#define KEY_SENT_3 "\nI know that candy isn't the healthiest thing to eat, but I don't care.\nI love it too much. I'll just have to make sure to eat it in moderation.\n  "
#define KEY_SENTENCES "[\"Puppies love to run, jump, and play fetch.\", \"I like to eat candy.\", \"Puppies are fun.\"]"
#define FORBID_1 "\n  The Nazis came to power in 1933 through a combination of legal and illegal\n  means. Hitler was appointed chancellor by President Paul von Hindenburg, and\n  the Nazis quickly consolidated their power by passing a series of laws that\n  restricted the rights of opposition parties and individuals. By 1934, Hitler\n  had become dictator of Germany.\n  "
#define FORBID_2 "\n  Dinosaurs were a diverse group of reptiles that dominated the Earth for over\n  160 million years. They came in all shapes and sizes, from the tiny\n  Compsognathus to the massive Argentinosaurus. Dinosaurs were the most\n  successful land animals on Earth until they went extinct about 66 million\n  years ago. The exact cause of their extinction is still unknown, but it\n  is thought to have been a combination of factors, including an asteroid\n  impact and climate change.\n  "
#define FORBID_3 "\n  GPT, or Generative Pre-trained Transformer, is a family of neural network\n  models that uses the transformer architecture. GPT models are trained on a\n  massive dataset of text and code, and can be used for a variety of tasks,\n  including text generation, translation, and question answering. GPT models\n  have been shown to be very effective at these tasks, and are being used by\n  a variety of companies and organizations like Google.\n  "
#define ORIGINAL_1 "\n  The sun is shining brightly today, and the birds are singing in the trees.\n  It's a beautiful day to be outside, so I decided to go for a walk.\n  As I walked, I took in the fresh air and the warm sunshine.\n  I felt happy and relaxed, and I was grateful for the beautiful day\n  "
#define ORIGINAL_2 "\n  Google is a global technology company that specializes in Internet-related\n  services and products. It is one of the most successful companies in the\n  world, and its products are used by billions of people every day. Google's\n  mission is to organize the world's information and make it universally\n  accessible and useful.\n  "
#define REPHRASED_1 "\n  On a beautiful day, I went for a walk. The sun shone and birds sang.\n  I enjoyed the fresh air and warm sun.\n  I felt happy and grateful for the lovely day.\n  "
#define REPHRASED_2 "\n  The weather was lovely, so I went for a walk. I enjoyed the\n  fresh air and warm sun. It was a beautiful day, and I felt happy and grateful.\n  "
#define REPHRASED_3 "\n  Google is a technology company that provides Internet services.\n  It aims to organize the world's information and make it universally\n  accessible and useful.\n  "
#define REPHRASED_4 "\n  I like candy.\n  "
#define TWO_1 "\n  This is response 1.\n  ******\n  This is response 2.\n  "
#define TWO_2 "\n  This is response 1.\n  ******\n  This is response 1.\n  "
#define TWO_3 "\n  This is response 1.\n  ******\n  This is response 2.\n  ******\n  This is response 3.\n  "
#define TWO_4 "\n  ******\n  Response 1.\n  ******\n  ******\n  Response 2.\n  ******\n  "
#define TWO_5 "\n  ******\n  Response 1\n  ******\n  Response 2\n  ******\n  "
#define TITLE_1 "\n  <<Song of Joy>>\n  La la la. Happy song.\n  "
#define TITLE_2 "\n  Is it fine for title to be at the end?\n  <<This is the title>>\n  "
#define TITLE_3 "\n  << >>\n  There is no title.\n  "
#define TITLE_4 "\n  <<This is not a title.\n  This is a paragraph.>>\n  "

// JSON-escaped pieces for kwargs
#define JS(x) "\"" x "\""

static const Case cases[] = {
    {"test_response_language", "language:response_language", "{\"language\": \"en\"}", "The response is English", NC},
    {"test_response_multilanguage", "language:response_language", "{\"language\": \"es\"}", "Desayunamos en McDonald's hoy", NC},
    {"test_response_multilanguage", "language:response_language", "{\"language\": \"en\"}", "Today we visit the Louvre", NC},
    {"test_number_sentences", "length_constraints:number_sentences", "{\"relation\": \"less than\", \"num_sentences\": 4}", "xx,x. xx,x! xx/x. x{x}x?", N},
    {"test_number_sentences", "length_constraints:number_sentences", "{\"relation\": \"less than\", \"num_sentences\": 5}", "xxxx. xx,x! xxxx. x(x)x?", Y},
    {"test_number_sentences", "length_constraints:number_sentences", "{\"relation\": \"at least\", \"num_sentences\": 4}", "xxxx. xx,x! xx|x. x&x x?", Y},
    {"test_number_sentences", "length_constraints:number_sentences", "{\"relation\": \"at least\", \"num_sentences\": 5}", "xx-x. xx,x! xx}x. x,xx?", N},
    {"test_number_placeholders", "detectable_content:number_placeholders", "{\"num_placeholders\": 5}",
     "Sure, here is a short template with 5 placeholders:\n[Name]\n[Email]\n[Phone]\n[Address]\n[Website]\nThis template can be used "
     "for a variety of purposes, such ascreating a contact list, sending out surveys, or creating a sign-up form.", Y},
    {"test_number_placeholders", "detectable_content:number_placeholders", "{\"num_placeholders\": 7}", "My [adjective] [noun] is [adjective] [noun]. I [verb] and [verb].", N},
    {"test_number_bullet_lists", "detectable_format:number_bullet_lists", "{\"num_bullets\": 3}", BULLET_1, Y},
    {"test_number_bullet_lists", "detectable_format:number_bullet_lists", "{\"num_bullets\": 2}", BULLET_2, Y},
    {"test_number_bullet_lists", "detectable_format:number_bullet_lists", "{\"num_bullets\": 3}", BULLET_3, Y},
    {"test_number_bullet_lists", "detectable_format:number_bullet_lists", "{\"num_bullets\": 3}", BULLET_4, Y},
    {"test_number_bullet_lists", "detectable_format:number_bullet_lists", "{\"num_bullets\": 1}", BULLET_5, Y},
    {"test_constrained_response", "detectable_format:constrained_response", "{}", "\n My answer is no.\n", Y},
    {"test_constrained_response", "detectable_format:constrained_response", "{}", "My answer is no.   ", Y},
    {"test_constrained_response", "detectable_format:constrained_response", "{}",
     "\n  My answer is no. I am still under development and I am always learning and\n  improving. I am not the best chatbot in the "
     "world, but I am striving to be\n  the best that I can be.", Y},
    {"test_number_highlights", "detectable_format:number_highlighted_sections", "{\"num_highlights\": 2}", HIGHLIGHT_1, Y},
    {"test_number_highlights", "detectable_format:number_highlighted_sections", "{\"num_highlights\": 2}", HIGHLIGHT_2, N},
    {"test_number_highlights", "detectable_format:number_highlighted_sections", "{\"num_highlights\": 4}", HIGHLIGHT_3, Y},
    {"test_section_checker", "detectable_format:multiple_sections", "{\"section_spliter\": \"Section\", \"num_sections\": 3}", SECTION_1, N},
    {"test_section_checker", "detectable_format:multiple_sections", "{\"section_spliter\": \"SECTION\", \"num_sections\": 2}", SECTION_2, Y},
    {"test_paragraph_checker", "length_constraints:number_paragraphs", "{\"num_paragraphs\": 3}", PARAGRAPH_1, Y},
    {"test_paragraph_checker", "length_constraints:number_paragraphs", "{\"num_paragraphs\": 3}", PARAGRAPH_2, Y},
    {"test_paragraph_checker", "length_constraints:number_paragraphs", "{\"num_paragraphs\": 3}", PARAGRAPH_3, Y},
    {"test_paragraph_checker", "length_constraints:number_paragraphs", "{\"num_paragraphs\": 2}", PARAGRAPH_4, N},
    {"test_postscript_checker", "detectable_content:postscript", "{\"postscript_marker\": \"P.S.\"}", POSTSCRIPT_1, Y},
    {"test_postscript_checker", "detectable_content:postscript", "{\"postscript_marker\": \"PS:\"}", POSTSCRIPT_1, N},
    {"test_postscript_checker", "detectable_content:postscript", "{\"postscript_marker\": \"P.P.S\"}", POSTSCRIPT_2, Y},
    {"test_postscript_checker", "detectable_content:postscript", "{\"postscript_marker\": \"P.S.\"}", POSTSCRIPT_3, Y},
    {"test_postscript_checker", "detectable_content:postscript", "{\"postscript_marker\": \"P.P.S\"}", POSTSCRIPT_4, Y},
    {"test_postscript_checker", "detectable_content:postscript", "{\"postscript_marker\": \"P.S.\"}", POSTSCRIPT_5, Y},
    {"test_constrained_start_checker", "multi-turn:constrained_start", "{\"starter\": \"My response is:\"}", START_1, Y},
    {"test_constrained_start_checker", "multi-turn:constrained_start", "{\"starter\": \"My response is:\"}", START_2, Y},
    {"test_constrained_start_checker", "multi-turn:constrained_start", "{\"starter\": \"My response is:\"}", START_3, N},
    {"test_rephrase_checker", "detectable_format:rephrase", "{\"original_message\": \"\\n  I am *happy*.\"}", "\n  I am *content*.", Y},
    {"test_rephrase_checker", "detectable_format:rephrase", "{\"original_message\": \"\\n  I am *happy*.\"}", "\n  I am .", RF},
    {"test_rephrase_checker", "detectable_format:rephrase", "{\"original_message\": \"\\n  I am *happy*.\"}", "\n  I am [content].", RF},
    {"test_rephrase_checker", "detectable_format:rephrase", "{\"original_message\": \"\\n  *At present,* there is heavy rainfall occurring.\"}",
     "\n  It is raining heavily *at this moment*.", N},
    {"test_keyword_checker", "keywords:existence", "{\"keywords\": [\"romantic\", \"river\", \"Mona Lisa\"]}", KEYWORD_1, Y},
    {"test_keyword_checker", "keywords:existence", "{\"keywords\": [\"romantic\", \"river\", \"Mona Lisa\"]}", KEYWORD_2, N},
    {"test_keyword_frequency_checker", "keywords:frequency", "{\"keyword\": \"  keyword \", \"frequency\": 4, \"relation\": \"less than\"}", FREQ_1, Y},
    {"test_keyword_frequency_checker", "keywords:frequency", "{\"keyword\": \"  keyword \", \"frequency\": 3, \"relation\": \"at least\"}", FREQ_1, Y},
    {"test_keyword_frequency_checker", "keywords:frequency", "{\"keyword\": \"KEYWORD\", \"frequency\": 4, \"relation\": \"at least\"}", FREQ_2, N},
    {"test_num_words_checker", "length_constraints:number_words", "{\"num_words\": 8, \"relation\": \"less than\"}", WORDS_1, Y},
    {"test_num_words_checker", "length_constraints:number_words", "{\"num_words\": 16, \"relation\": \"less than\"}", WORDS_2, N},
    {"test_num_words_checker", "length_constraints:number_words", "{\"num_words\": 16, \"relation\": \"at least\"}", WORDS_2, Y},
    {"test_paragraph_first_word", "length_constraints:nth_paragraph_first_word", "{\"num_paragraphs\": 3, \"nth_paragraph\": 2, \"first_word\": \"I\"}", FIRST_1, Y},
    {"test_paragraph_first_word", "length_constraints:nth_paragraph_first_word", "{\"num_paragraphs\": 3, \"nth_paragraph\": 2, \"first_word\": \"I\"}", FIRST_2, N},
    {"test_paragraph_first_word", "length_constraints:nth_paragraph_first_word", "{\"num_paragraphs\": 3, \"nth_paragraph\": 2, \"first_word\": \"I\"}", FIRST_3, N},
    {"test_paragraph_first_word", "length_constraints:nth_paragraph_first_word", "{\"num_paragraphs\": 5, \"nth_paragraph\": 5, \"first_word\": \"haha\"}", FIRST_4, Y},
    {"test_paragraph_first_word", "length_constraints:nth_paragraph_first_word", "{\"num_paragraphs\": 5, \"nth_paragraph\": 3, \"first_word\": \"Really\"}", FIRST_5, Y},
    {"test_paragraph_first_word", "length_constraints:nth_paragraph_first_word", "{\"num_paragraphs\": 5, \"nth_paragraph\": 3, \"first_word\": \"Really\"}", FIRST_6, N},
    {"test_key_sentences", "keywords:key_sentences", "{\"key_sentences\": " KEY_SENTENCES ", \"num_sentences\": 2}", KEY_SENT_1, Y},
    {"test_key_sentences", "keywords:key_sentences", "{\"key_sentences\": " KEY_SENTENCES ", \"num_sentences\": 1}", KEY_SENT_2, Y},
    {"test_key_sentences", "keywords:key_sentences", "{\"key_sentences\": " KEY_SENTENCES ", \"num_sentences\": 1}", KEY_SENT_3, N},
    {"test_forbidden_words", "keywords:forbidden_words", "{\"forbidden_words\": [\"HOUSE\", \"POWER\", \"BECOME\"]}", FORBID_1, N},
    {"test_forbidden_words", "keywords:forbidden_words", "{\"forbidden_words\": [\"HOUSE\", \"POWER\", \"BECOME\"]}", FORBID_2, Y},
    {"test_forbidden_words", "keywords:forbidden_words", "{\"forbidden_words\": [\"HOUSE\", \"POWER\", \"BECOME\"]}", FORBID_3, Y},
    {"test_forbidden_words", "keywords:forbidden_words", "{\"forbidden_words\": [\"GOOGLE\", \"TEXT\"]}", FORBID_1, Y},
    {"test_forbidden_words", "keywords:forbidden_words", "{\"forbidden_words\": [\"GOOGLE\", \"TEXT\"]}", FORBID_2, Y},
    {"test_forbidden_words", "keywords:forbidden_words", "{\"forbidden_words\": [\"GOOGLE\", \"TEXT\"]}", FORBID_3, N},
    {"test_forbidden_words", "keywords:forbidden_words", "{\"forbidden_words\": [\"GENE\", \"TRANSFORM\"]}", FORBID_3, Y},
    {"test_rephrase_paragraph", "detectable_content:rephrase_paragraph", "{\"low\": 20, \"high\": 30, \"original_paragraph\": \"\"}", REPHRASED_1, Y},
    {"test_rephrase_paragraph", "detectable_content:rephrase_paragraph", "{\"low\": 20, \"high\": 25, \"original_paragraph\": \"\"}", REPHRASED_2, Y},
    {"test_rephrase_paragraph", "detectable_content:rephrase_paragraph", "{\"low\": 15, \"high\": 20, \"original_paragraph\": \"\"}", REPHRASED_3, N},
    {"test_rephrase_paragraph", "detectable_content:rephrase_paragraph", "{\"low\": 0, \"high\": 5, \"original_paragraph\": \"\"}", REPHRASED_4, Y},
    {"test_rephrase_paragraph", "detectable_content:rephrase_paragraph", "{\"low\": 1, \"high\": 5, \"original_paragraph\": \"\"}", REPHRASED_4, N},
    {"test_two_responses", "combination:two_responses", "{}", TWO_1, Y},
    {"test_two_responses", "combination:two_responses", "{}", TWO_2, N},
    {"test_two_responses", "combination:two_responses", "{}", TWO_3, N},
    {"test_two_responses", "combination:two_responses", "{}", TWO_4, N},
    {"test_two_responses", "combination:two_responses", "{}", TWO_5, Y},
    {"test_prompt_repeat_answer", "combination:repeat_prompt", "{\"prompt_to_repeat\": \"Write a CL description.\"}",
     "Write a CL description. Hi, Le and TJ, please\n  check this out. Thanks.\n  ", Y},
    {"test_prompt_repeat_answer", "combination:repeat_prompt", "{\"prompt_to_repeat\": \"Write a CL description.\"}",
     "Hi, Le and TJ. Write a CL description. Thanks.\n  ", N},
    {"test_end_checker", "startend:end_checker", "{\"end_phrase\": \"\\n  Any more questions?\\n  \"}", "\n  The answer is 7. Any more questions?\n  ", Y},
    {"test_end_checker", "startend:end_checker", "{\"end_phrase\": \"\\n  This is the end.\\n  \"}",
     "\n  At the end of this prompt I am required to say that this is the end.\n  ", Y},
    {"test_end_checker", "startend:end_checker", "{\"end_phrase\": \"\\n  This will fail.\\n  \"}", "\n  This will fail. Paris is cool.\n  ", N},
    {"test_title_checker", "detectable_format:title", "{}", TITLE_1, Y},
    {"test_title_checker", "detectable_format:title", "{}", TITLE_2, Y},
    {"test_title_checker", "detectable_format:title", "{}", TITLE_3, N},
    {"test_title_checker", "detectable_format:title", "{}", TITLE_4, N},
    {"test_letter_frequency_checker", "keywords:letter_frequency", "{\"letter\": \"T\", \"let_frequency\": 4, \"let_relation\": \"at least\"}",
     "\n  There is the T. Four T's.\n  ", Y},
    {"test_letter_frequency_checker", "keywords:letter_frequency", "{\"letter\": \"a\", \"let_frequency\": 4, \"let_relation\": \"less than\"}",
     "\n  asdfghjkl!!aA\n  ", Y},
    {"test_letter_frequency_checker", "keywords:letter_frequency", "{\"letter\": \"p\", \"let_frequency\": 4, \"let_relation\": \"at least\"}",
     "\n  asdfghjkl!!aA\n  ", N},
    {"test_letter_frequency_checker_accepts_punctuation", "keywords:letter_frequency",
     "{\"letter\": \"#\", \"let_frequency\": 4, \"let_relation\": \"at least\"}", "#one #two #three #four", Y},
    {"test_letter_frequency_checker_accepts_punctuation", "keywords:letter_frequency",
     "{\"letter\": \"#\", \"let_frequency\": 4, \"let_relation\": \"at least\"}", "#one #two #three", N},
    {"test_english_capital_checker", "change_case:english_capital", "{}",
     "\n  THIS IS AN ENGLISH SENTENCE. EVERY LETTER IS CAPITALIZED!!! AMAZING.\n  ", Y},
    {"test_english_capital_checker", "change_case:english_capital", "{}", "\n  Every Word Is Capitalized.\n  ", N},
    {"test_english_lowercase_checker", "change_case:english_lowercase", "{}", "\n  every letter is lowercase.\n  ", Y},
    {"test_english_lowercase_checker", "change_case:english_lowercase", "{}", "\n  Almost every letter is lowercase.\n  ", N},
    {"test_comma", "punctuation:no_comma", "{}", "\n  Every sentence is short. There is no need for a comma.\n  ", Y},
    {"test_comma", "punctuation:no_comma", "{}", "\n  Since the start of time, people have always found a way to punctuate.\n  ", N},
    {"test_capital_word_frequency", "change_case:capital_word_frequency", "{\"capital_frequency\": 3, \"capital_relation\": \"at least\"}",
     "\n  HERE there are THREE FUlly CAPITAL words.\n  ", Y},
    {"test_capital_word_frequency", "change_case:capital_word_frequency", "{\"capital_frequency\": 5, \"capital_relation\": \"less than\"}",
     "\n  THERE are Four FULLY CAPITAL WORDS. Many Others Are Only Partially So.\n  ", Y},
    {"test_capital_word_frequency", "change_case:capital_word_frequency", "{\"capital_frequency\": 4, \"capital_relation\": \"less than\"}",
     "\n  THERE are Four FULLY CAPITAL WORDS. Many Others Are Only Partially So.\n  ", N},
    {"test_quotation", "startend:quotation", "{}", "\n  \"This entire message is wrapped in double quotation marks.\"\n  ", Y},
    {"test_quotation", "startend:quotation", "{}", "\n  \"This message is wrapped in double quotation marks.\" But not everything.\n  ", N},
};

// The original paragraphs of test_rephrase_paragraph, by the case's low/high (JSON cannot hold them
// readably above): ORIGINAL_1 for the first two cases, ORIGINAL_2 for the others.
static const char *rephrase_original(int index_among_rephrase) { return index_among_rephrase < 2 ? ORIGINAL_1 : ORIGINAL_2; }

static int parse_instruction(const char *id, const char *kwargs_json, IfevalInstruction *ins) {
    JsonDoc doc;
    if (json_parse(&doc, kwargs_json, strlen(kwargs_json)) < 0) return -1;
    int rc = ifeval_instruction_parse(id, doc.root, ins);
    json_free(&doc);
    return rc;
}

static void test_official_cases(void) {
    int n = (int)(sizeof cases / sizeof cases[0]), rephrase = 0, kinds_seen[64] = {0};
    for (int i = 0; i < n; i++) {
        const Case *c = &cases[i];
        IfevalInstruction ins;
        char kwargs[4096];
        snprintf(kwargs, sizeof kwargs, "%s", c->kwargs);
        if (strcmp(c->id, "detectable_content:rephrase_paragraph") == 0) {   // splice the original paragraph in
            Buf b = {0};
            const char *original = rephrase_original(rephrase++), *at = strstr(c->kwargs, "\"\"}");
            buf_append(&b, c->kwargs, (size_t)(at - c->kwargs));
            buf_json_string(&b, original, strlen(original));
            buf_append_str(&b, "}");
            snprintf(kwargs, sizeof kwargs, "%s", b.data);
            buf_free(&b);
        }
        int rc = parse_instruction(c->id, kwargs, &ins);
        CHECK(rc == 0, "case %d (%s, %s): kwargs parse: %s", i, c->test, c->id, srl_error);
        if (rc < 0) continue;
        kinds_seen[ins.kind] = 1;
        int v = ifeval_follows(&ins, c->response);
        CHECK(v == c->verdict, "case %d (%s, %s): verdict %d, expected %d", i, c->test, c->id, v, c->verdict);
        ifeval_instruction_free(&ins);
    }
    // every checker but json_format, which the official tests do not exercise (test_strict_and_loose does)
    int n_kinds = 0;
    for (int k = 0; k < ifeval_kind_count(); k++) n_kinds += kinds_seen[k] || strcmp(ifeval_kind_name(k), "detectable_format:json_format") == 0;
    CHECK(n_kinds == ifeval_kind_count(), "the cases cover %d of the %d instruction ids", n_kinds, ifeval_kind_count());
    CHECK(n >= 90, "%d official cases", n);
}

// The counts behind the checkers, on the official tests' texts.
static void test_counts(void) {
    CHECK(ifeval_count_words(WORDS_1) == 7, "words of WORDS_1: %d", ifeval_count_words(WORDS_1));
    CHECK(ifeval_count_words(WORDS_2) == 16, "words of WORDS_2: %d", ifeval_count_words(WORDS_2));
    CHECK(ifeval_count_words("caf\xC3\xA9 na\xC3\xAFve d\xC3\xA9j\xC3\xA0-vu") == 4, "Unicode letters are word characters");
    CHECK(ifeval_count_sentences("xx,x. xx,x! xx/x. x{x}x?") == 4, "sentences: 4");
    CHECK(ifeval_count_sentences("") == 0 && ifeval_count_sentences("   \n ") == 0, "no sentence in blank text");
    // Punkt without parameters: initials and numbers before a lowercase word end no sentence
    CHECK(ifeval_count_sentences("Call A. Smith today. It is 3. then go.") == 2, "an initial and a number keep the sentence: %d",
          ifeval_count_sentences("Call A. Smith today. It is 3. then go."));
    CHECK(ifeval_count_sentences("He said \"Stop.\" Then he left.") == 2, "closing quote stays with its sentence: %d",
          ifeval_count_sentences("He said \"Stop.\" Then he left."));
    CHECK(ifeval_count_sentences("Wait... What? Really?! Yes.") == 3, "ellipsis ends none; ?! ends once: %d",
          ifeval_count_sentences("Wait... What? Really?! Yes."));
    CHECK(ifeval_count_capital_words("I DON'T KNOW, AT&T (NASA) said.") == 7, "I DO N'T KNOW AT T NASA: %d",
          ifeval_count_capital_words("I DON'T KNOW, AT&T (NASA) said."));
    CHECK(ifeval_count_capital_words("CANNOT \xC3\x89T\xC3\x89 \xD0\x9C\xD0\x98\xD0\xA0 d\xC3\x89j\xC3\xA0") == 4, "CAN NOT ÉTÉ МИР: %d",
          ifeval_count_capital_words("CANNOT \xC3\x89T\xC3\x89 \xD0\x9C\xD0\x98\xD0\xA0 d\xC3\x89j\xC3\xA0"));
}

static int verdict_of(const char *id, const char *kwargs, const char *response, int loose) {
    IfevalInstruction ins;
    if (parse_instruction(id, kwargs, &ins) < 0) return -1;
    int v = loose ? ifeval_check_loose(&ins, response) : ifeval_check_strict(&ins, response);
    ifeval_instruction_free(&ins);
    return v;
}

// evaluation_lib's strict and loose: an empty response follows nothing; the loose variants.
static void test_strict_and_loose(void) {
    const char *chatty = "Sure! Here is my answer:\n\"A quoted answer.\"\nHope this helps!";
    CHECK(verdict_of("startend:quotation", "{}", chatty, 0) == N, "strict: the chatter around the quotes fails");
    CHECK(verdict_of("startend:quotation", "{}", chatty, 1) == Y, "loose: without the first and last lines it is quoted");
    CHECK(verdict_of("punctuation:no_comma", "{}", "   \n ", 0) == N, "an empty response follows nothing, not even no_comma");
    CHECK(verdict_of("punctuation:no_comma", "{}", "   \n ", 1) == N, "nor loosely");
    CHECK(verdict_of("detectable_content:postscript", "{\"postscript_marker\": \"P.S.\"}", "Hi.\n**P.S.** bye", 0) == Y, "P.S. in bold, strict");
    CHECK(verdict_of("startend:end_checker", "{\"end_phrase\": \"Any questions?\"}", "Text.\n**Any questions?**", 0) == N,
          "strict: the phrase in bold does not end the text");
    CHECK(verdict_of("startend:end_checker", "{\"end_phrase\": \"Any questions?\"}", "Text.\n**Any questions?**", 1) == Y,
          "loose: with the asterisks removed it does");
    CHECK(verdict_of("language:response_language", "{\"language\": \"de\"}", "Guten Tag.", 1) == NC, "language: not checked, loosely too");
    CHECK(verdict_of("language:response_language", "{\"language\": \"de\"}", " ", 0) == N, "an empty response fails even the language check");
    CHECK(verdict_of("detectable_format:number_highlighted_sections", "{\"num_highlights\": 2}", "*one* and * * and ** **", 0) == N,
          "a highlight of white space does not count");
    CHECK(verdict_of("detectable_format:json_format", "{}", "```json\n{\"a\": [1, 2]}\n```", 0) == Y, "JSON in a fenced block");
    CHECK(verdict_of("detectable_format:json_format", "{}", "Here: {\"a\": 1}", 0) == N, "chatter before JSON fails strictly");
}

static void test_kwargs_errors(void) {
    struct {
        const char *id, *kwargs, *message;
    } bad[] = {
        {"keywords:letter_frequency", "{\"letter\": \"ab\", \"let_frequency\": 1, \"let_relation\": \"at least\"}", "single non-whitespace character"},
        {"keywords:letter_frequency", "{\"letter\": \"a\", \"let_frequency\": -1, \"let_relation\": \"at least\"}", "let_frequency"},
        {"keywords:frequency", "{\"keyword\": \"x\", \"frequency\": 2, \"relation\": \"at most\"}", "\"less than\" or \"at least\""},
        {"length_constraints:number_words", "{\"relation\": \"at least\"}", "num_words"},
        {"punctuation:no_comma", "{\"num_words\": 3}", "takes no argument \"num_words\""},
        {"detectable_format:rephrase", "{\"original_message\": \"no change here\"}", "*change*"},
        {"length_constraints:nth_paragraph_first_word", "{\"num_paragraphs\": 2, \"nth_paragraph\": 3, \"first_word\": \"a\"}", "nth_paragraph"},
        {"nonsense:instruction", "{}", "unknown instruction id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        IfevalInstruction ins;
        int rc = parse_instruction(bad[i].id, bad[i].kwargs, &ins);
        CHECK(rc < 0 && strstr(srl_error, bad[i].message), "%s %s refused with \"%s\": got %d \"%s\"", bad[i].id, bad[i].kwargs,
              bad[i].message, rc, srl_error);
        if (rc < 0) ifeval_instruction_free(&ins);
    }
    // null values are "not given", as IFEval's loader passes them
    IfevalInstruction ins;
    CHECK(parse_instruction("punctuation:no_comma", "{\"num_words\": null, \"keywords\": null}", &ins) == 0, "null kwargs are ignored");
    ifeval_instruction_free(&ins);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_data_errors(void) {
    char dir[] = "/tmp/srl_test_ifeval.XXXXXX";
    if (!mkdtemp(dir)) return;
    char path[256];
    snprintf(path, sizeof path, "%s/input.jsonl", dir);
    const char *good = "{\"key\": 1, \"prompt\": \"Say hi.\", \"instruction_id_list\": [\"punctuation:no_comma\"], \"kwargs\": [{}]}\n";
    struct {
        const char *second_line, *message;
    } bad[] = {
        {"{\"key\": 2, \"prompt\": \"x\", \"instruction_id_list\": [\"made:up\"], \"kwargs\": [{}]}\n", ":2: unknown instruction id \"made:up\""},
        {"{\"key\": 2, \"prompt\": \"x\", \"instruction_id_list\": [\"punctuation:no_comma\"]\n", ":2: "},
        {"{\"key\": 2, \"instruction_id_list\": [\"punctuation:no_comma\"], \"kwargs\": [{}]}\n", ":2: a record needs \"prompt\""},
        {"{\"key\": 2, \"prompt\": \"x\", \"instruction_id_list\": [\"punctuation:no_comma\"], \"kwargs\": []}\n", ":2: \"kwargs\" must be a list"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Buf b = {0};
        buf_append_str(&b, good);
        buf_append_str(&b, bad[i].second_line);
        write_text(path, b.data);
        buf_free(&b);
        IfevalSet set;
        int rc = ifeval_read(path, &set);
        CHECK(rc < 0 && strstr(srl_error, path) && strstr(srl_error, bad[i].message), "bad line %zu: \"%s\"", i, srl_error);
    }
    write_text(path, good);
    IfevalSet set;
    CHECK(ifeval_read(path, &set) == 0 && set.n == 1, "one good record reads");
    char rpath[256];
    snprintf(rpath, sizeof rpath, "%s/responses.jsonl", dir);
    write_text(rpath, "{\"prompt\": \"Say hi.\"}\n");
    char *responses[1];
    int by_line, unused;
    CHECK(ifeval_read_responses(&set, rpath, responses, &by_line, &unused) < 0 && strstr(srl_error, ":1: a response record needs"),
          "a response line without \"response\": \"%s\"", srl_error);
    write_text(rpath, "{\"prompt\": \"Say hello.\", \"response\": \"hi\"}\n{\"prompt\": \"other\", \"response\": \"x\"}\n");
    CHECK(ifeval_read_responses(&set, rpath, responses, &by_line, &unused) == 0 && by_line == 1 && unused == 1 && responses[0] &&
              strcmp(responses[0], "hi") == 0,
          "a response whose prompt differs pairs with the prompt on its line (%d by line, %d unused)", by_line, unused);
    free(responses[0]);
    ifeval_set_free(&set);
    unlink(path), unlink(rpath), rmdir(dir);
}

// NLTK's counts (tools/ifeval_reference.py) on GPT-4's 541 responses, line by line.
static void test_against_nltk(const char *fixtures) {
    char path[1024];
    snprintf(path, sizeof path, "%s/data/ifeval_gpt4_responses.jsonl", fixtures);
    JsonlReader r, ref;
    if (jsonl_open(&r, path) < 0 || jsonl_open(&ref, "tests/ref/ifeval_nltk.jsonl") < 0) {
        CHECK(0, "%s", srl_error);
        return;
    }
    const JsonValue *a, *b;
    int n = 0, sentences_same = 0, capitals_same = 0;
    while (jsonl_next(&r, &a) > 0 && jsonl_next(&ref, &b) > 0) {
        double s, c;
        const char *response = json_get_string(a, "response");
        if (!response || json_get_number(b, "sentences", &s) < 0 || json_get_number(b, "capital_words", &c) < 0) break;
        n++;
        int ms = ifeval_count_sentences(response), mc = ifeval_count_capital_words(response);
        sentences_same += ms == (int)s, capitals_same += mc == (int)c;
        CHECK(ms == (int)s, "line %ld: %d sentences, NLTK's Punkt %d", ref.line, ms, (int)s);
        CHECK(mc == (int)c, "line %ld: %d capital words, NLTK %d", ref.line, mc, (int)c);
    }
    jsonl_close(&r), jsonl_close(&ref);
    CHECK(n == 541, "%d responses compared", n);
    printf("  NLTK on GPT-4's %d responses: sentence counts agree %d, capital-word counts %d\n", n, sentences_same, capitals_same);
}

// GPT-4's released responses scored by srl, against the IFEval paper's Table 3 (prompt-level strict
// 76.89, instruction-level strict 83.57, prompt-level loose 79.30, instruction-level loose 85.37).
static void test_gpt4_scores(const char *fixtures) {
    char data[1024], responses_path[1024];
    snprintf(data, sizeof data, "%s/data/ifeval_input_data.jsonl", fixtures);
    snprintf(responses_path, sizeof responses_path, "%s/data/ifeval_gpt4_responses.jsonl", fixtures);
    IfevalSet set;
    if (ifeval_read(data, &set) < 0) {
        CHECK(0, "%s", srl_error);
        return;
    }
    char **responses = calloc((size_t)set.n, sizeof(char *));
    int by_line, unused;
    CHECK(ifeval_read_responses(&set, responses_path, responses, &by_line, &unused) == 0, "%s", srl_error);
    CHECK(by_line == 1 && unused == 0, "one response (line 340's) paired by line: %d, %d unused", by_line, unused);
    unsigned char *verdicts = malloc((size_t)set.n_instructions * 2);
    IfevalScores s;
    ifeval_score(&set, responses, verdicts, &s);
    const double paper[2][2] = {{76.89, 83.57}, {79.30, 85.37}};
    for (int m = 0; m < 2; m++) {
        double plo, phi, ilo, ihi, p = 100 * ifeval_prompt_accuracy(&s, m), in = 100 * ifeval_instruction_accuracy(&s, m);
        ifeval_bounds(&s, m, &plo, &phi, &ilo, &ihi);
        CHECK(fabs(p - paper[m][0]) <= 1.0, "%s prompt-level %.2f%%, the paper %.2f%%", m ? "loose" : "strict", p, paper[m][0]);
        CHECK(fabs(in - paper[m][1]) <= 1.0, "%s instruction-level %.2f%%, the paper %.2f%%", m ? "loose" : "strict", in, paper[m][1]);
        CHECK(100 * plo <= paper[m][0] && paper[m][0] <= 100 * phi, "the paper's prompt-level in [%.2f, %.2f]", 100 * plo, 100 * phi);
        CHECK(100 * ilo <= paper[m][1] && paper[m][1] <= 100 * ihi, "the paper's instruction-level in [%.2f, %.2f]", 100 * ilo, 100 * ihi);
        printf("  GPT-4 %s: prompt-level %.2f%% (paper %.2f), instruction-level %.2f%% (paper %.2f)\n", m ? "loose " : "strict", p,
               paper[m][0], in, paper[m][1]);
    }
    CHECK(s.n_prompts == 541 && s.n_instructions == 834 && s.instructions_unchecked[0] == 31, "541 prompts, 834 instructions, 31 not checked");
    for (int i = 0; i < set.n; i++) free(responses[i]);
    free(responses), free(verdicts);
    ifeval_scores_free(&s);
    ifeval_set_free(&set);
}

// Hostile responses: long runs that a regex engine walks in quadratic time (blank lines before a
// line-start pattern, "<<" and "[" without their closers, ". . ." runs). Every checker must take
// them in linear time: a quadratic path would make this test run for minutes.
static void test_long_hostile_text(void) {
    size_t n = 60000;
    Buf b = {0};
    for (size_t i = 0; i < n; i++) buf_append_char(&b, '\n');
    for (size_t i = 0; i < n; i++) buf_append_str(&b, i % 2 ? "<" : "[");
    for (size_t i = 0; i < n; i++) buf_append_str(&b, ". ");
    for (size_t i = 0; i < n; i++) buf_append_str(&b, "*");
    buf_append_str(&b, "\nDON'T");
    double start = now_seconds();
    int total = 0;
    for (int k = 0; k < ifeval_kind_count(); k++) {
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            if (strcmp(cases[c].id, ifeval_kind_name(k)) != 0) continue;
            IfevalInstruction ins;
            if (parse_instruction(cases[c].id, strstr(cases[c].id, "rephrase_paragraph") ? "{\"low\": 1, \"high\": 2, \"original_paragraph\": \"a\"}"
                                                                                         : cases[c].kwargs, &ins) < 0)
                break;
            int v = ifeval_check_loose(&ins, b.data);
            total += v >= IFEVAL_NOT_FOLLOWED && v <= IFEVAL_REFUSED;
            ifeval_instruction_free(&ins);
            break;
        }
    }
    CHECK(total == ifeval_kind_count() - 1, "every checker but json_format (no official case) gave a verdict on %zu hostile bytes: %d",
          b.len, total);
    printf("  every checker, loose, on %zu hostile bytes: %.1f s\n", b.len, now_seconds() - start);
    buf_free(&b);
}

int main(void) {
    test_official_cases();
    test_long_hostile_text();
    test_counts();
    test_strict_and_loose();
    test_kwargs_errors();
    test_data_errors();
    const char *fixtures = fixtures_dir();
    if (fixtures) {
        test_against_nltk(fixtures);
        test_gpt4_scores(fixtures);
    } else {
        printf("  skip: SRL_FIXTURES unset, not testing NLTK's counts and GPT-4's scores on the real IFEval files\n");
    }
    return check_summary("test_ifeval");
}
