{#- The PII scrubber at the text boundary: every piece of free text (reviews, search queries)
    passes scrub_text before it reaches customer_behaviour_text, catalogue text passes
    product_words. Word lists are regular expressions over lower-case ASCII words, so RE2 matches
    them in linear time whatever their length. -#}

{% macro scrub_max_chars() -%}
    {#- Free text is cut to this many characters (at a word boundary) before scrubbing, so one
        huge review costs no more than a normal one. -#}
    1000
{%- endmacro %}

{% macro scrub_max_word_length() -%}
    {#- Longer "words" (hashes, base64, run-together junk) are dropped. -#}
    20
{%- endmacro %}

{% macro scrub_word_regex(words) -%}
    {#- A full-match alternation of lower-case words. -#}
    (?:{{ words | join('|') }})
{%- endmacro %}

{% macro scrub_tld_regex() -%}
    {{ scrub_word_regex(['com', 'net', 'org', 'edu', 'gov', 'io', 'info', 'biz', 'co', 'uk']) }}
{%- endmacro %}

{% macro scrub_first_names_regex() -%}
    {#- Common first names (English and a few frequent European / Asian ones) that are not also
        ordinary English words (no "will", "may", "mark", "rose", "grace"): dropped anywhere,
        in any case, together with the word that follows (a surname) unless that word is
        allow-listed. -#}
    {{ scrub_word_regex([
        'james', 'john', 'johnny', 'jon', 'robert', 'bob', 'bobby', 'michael', 'mike', 'william',
        'willie', 'david', 'dave', 'richard', 'rick', 'joseph', 'joe', 'thomas', 'tom', 'tommy',
        'charles', 'chris', 'christopher', 'daniel', 'dan', 'danny', 'matthew', 'matt',
        'anthony', 'tony', 'donald', 'steven', 'steve', 'stephen', 'paul', 'andrew', 'andy',
        'joshua', 'kenneth', 'ken', 'kevin', 'brian', 'george', 'edward', 'ed', 'ronald', 'ron',
        'timothy', 'tim', 'jason', 'jeffrey', 'jeff', 'ryan', 'jacob', 'gary', 'nicholas', 'nick',
        'eric', 'jonathan', 'larry', 'justin', 'scott', 'brandon', 'benjamin', 'ben', 'samuel',
        'sam', 'gregory', 'greg', 'alexander', 'alex', 'patrick', 'raymond', 'dennis', 'jerry',
        'tyler', 'aaron', 'jose', 'adam', 'henry', 'nathan', 'douglas', 'zachary', 'peter',
        'pete', 'kyle', 'walter', 'ethan', 'jeremy', 'harold', 'keith', 'christian', 'roger',
        'noah', 'gerald', 'carl', 'terry', 'sean', 'austin', 'arthur', 'lawrence', 'jesse',
        'dylan', 'bryan', 'jordan', 'billy', 'bruce', 'albert', 'gabriel', 'logan', 'alan',
        'juan', 'wayne', 'roy', 'ralph', 'randy', 'eugene', 'vincent', 'russell', 'elijah',
        'louis', 'philip', 'phil', 'harry', 'charlie', 'oscar', 'alfie', 'freddie', 'archie',
        'theo', 'oliver', 'liam', 'lucas', 'luca', 'marco', 'mario', 'luigi', 'giuseppe',
        'pierre', 'jacques', 'francois', 'hans', 'klaus', 'jurgen', 'stefan', 'wolfgang',
        'mohammed', 'muhammad', 'ahmed', 'ali', 'omar', 'hassan', 'wei', 'hiroshi', 'takeshi',
        'raj', 'rahul', 'amit', 'vikram', 'ivan', 'dmitri', 'sergei', 'pedro', 'carlos', 'diego',
        'miguel', 'javier', 'mary', 'patricia', 'jennifer', 'jenny', 'linda', 'elizabeth',
        'liz', 'barbara', 'susan', 'jessica', 'sarah', 'sara', 'karen', 'nancy', 'lisa', 'betty',
        'margaret', 'sandra', 'ashley', 'kimberly', 'kim', 'emily', 'donna', 'michelle',
        'dorothy', 'carol', 'amanda', 'melissa', 'deborah', 'debbie', 'stephanie', 'rebecca',
        'sharon', 'laura', 'cynthia', 'kathleen', 'kate', 'katie', 'amy', 'shirley', 'angela',
        'helen', 'anna', 'ann', 'anne', 'brenda', 'pamela', 'nicole', 'emma', 'samantha',
        'katherine', 'christine', 'debra', 'rachel', 'catherine', 'carolyn', 'janet', 'maria',
        'heather', 'diane', 'virginia', 'julie', 'joyce', 'victoria', 'olivia', 'kelly',
        'christina', 'lauren', 'joan', 'evelyn', 'judith', 'judy', 'megan', 'cheryl', 'andrea',
        'hannah', 'martha', 'jacqueline', 'frances', 'gloria', 'teresa', 'kathryn', 'janice',
        'jean', 'alice', 'madison', 'doris', 'abigail', 'julia', 'sophia', 'sophie', 'marie',
        'denise', 'beverly', 'danielle', 'marilyn', 'jane', 'diana', 'natalie', 'brittany',
        'charlotte', 'kayla', 'alexis', 'lori', 'chloe', 'lucy', 'ella', 'isabella', 'ava', 'mia',
        'emilia', 'giulia', 'francesca', 'chiara', 'claire', 'camille', 'manon', 'ingrid',
        'greta', 'heidi', 'ursula', 'fatima', 'aisha', 'yuki', 'mei', 'priya', 'anjali',
        'olga', 'natasha', 'svetlana', 'lucia', 'carmen', 'sofia', 'isabel', 'ana'
    ]) }}
{%- endmacro %}

{% macro scrub_surnames_regex() -%}
    {#- Frequent surnames that are not ordinary English words (no "baker", "king", "price"). -#}
    {{ scrub_word_regex([
        'smith', 'johnson', 'williams', 'jones', 'miller', 'davis', 'garcia', 'rodriguez',
        'wilson', 'martinez', 'anderson', 'taylor', 'hernandez', 'moore', 'jackson', 'thompson',
        'perez', 'harris', 'clark', 'lewis', 'robinson', 'walker', 'allen', 'wright', 'torres',
        'nguyen', 'flores', 'adams', 'nelson', 'mitchell', 'campbell', 'roberts', 'carter',
        'phillips', 'evans', 'turner', 'parker', 'collins', 'edwards', 'stewart', 'morris',
        'murphy', 'rogers', 'morgan', 'peterson', 'cooper', 'reed', 'bailey', 'howard', 'cox',
        'richardson', 'watson', 'brooks', 'bennett', 'hughes', 'sanders', 'myers', 'ross',
        'foster', 'doe', 'schmidt', 'muller', 'mueller', 'schneider', 'fischer', 'weber',
        'meyer', 'wagner', 'becker', 'schulz', 'hoffmann', 'rossi', 'russo', 'bianchi',
        'romano', 'colombo', 'dupont', 'durand', 'dubois', 'lefebvre', 'moreau', 'fernandez',
        'lopez', 'gonzalez', 'sanchez', 'ramirez', 'kowalski', 'nowak', 'ivanov', 'smirnov',
        'tanaka', 'suzuki', 'sato', 'watanabe', 'yamamoto', 'patel', 'singh', 'kumar', 'sharma',
        'khan', 'obrien', 'kelly', 'sullivan', 'walsh', 'oconnor', 'wang', 'zhang', 'chen',
        'liu', 'yang', 'huang', 'zhao', 'kim', 'nakamura'
    ]) }}
{%- endmacro %}

{% macro scrub_titles_regex() -%}
    {#- Forms of address: the title and the name after it are dropped. -#}
    {{ scrub_word_regex(['mr', 'mrs', 'ms', 'miss', 'mx', 'dr', 'sir', 'madam', 'herr', 'frau',
                    'mme', 'mlle', 'monsieur', 'senor', 'senora', 'signor', 'signora']) }}
{%- endmacro %}

{% macro scrub_allowed_words_regex() -%}
    {#- Common English words that may stand capitalised in mid-sentence ("I", "Great Value",
        "OK") and may follow a first name; any other capitalised word in mid-sentence is taken
        for a name and dropped. Apostrophes are removed before matching ("I'm" -> "im"). -#}
    {{ scrub_word_regex([
        'i', 'im', 'ive', 'id', 'ill', 'me', 'my', 'mine', 'we', 'us', 'our', 'you', 'your',
        'he', 'she', 'it', 'its', 'they', 'them', 'their', 'this', 'that', 'these', 'those',
        'a', 'an', 'the', 'and', 'or', 'but', 'so', 'if', 'then', 'than', 'because', 'as', 'at',
        'by', 'for', 'from', 'in', 'into', 'of', 'off', 'on', 'onto', 'out', 'over', 'to', 'up',
        'with', 'without', 'about', 'after', 'before', 'again', 'also', 'just', 'only', 'very',
        'really', 'too', 'much', 'more', 'most', 'less', 'least', 'all', 'any', 'some', 'no',
        'not', 'never', 'nothing', 'none', 'every', 'each', 'both', 'either', 'neither', 'one',
        'other', 'another', 'same', 'such', 'here', 'there', 'where', 'when', 'what', 'which',
        'who', 'why', 'how', 'is', 'are', 'was', 'were', 'be', 'been', 'being', 'am', 'do',
        'does', 'did', 'done', 'dont', 'doesnt', 'didnt', 'have', 'has', 'had', 'havent',
        'can', 'cant', 'cannot', 'could', 'couldnt', 'would', 'wouldnt', 'should', 'shouldnt',
        'must', 'might', 'shall', 'wont', 'isnt', 'arent', 'wasnt', 'werent', 'yes', 'ok',
        'okay', 'please', 'thanks', 'thank', 'hello', 'hi', 'hey', 'wow', 'oh', 'well', 'still',
        'yet', 'already', 'even', 'ever', 'always', 'often', 'sometimes', 'now', 'today',
        'tomorrow', 'yesterday', 'week', 'weeks', 'month', 'months', 'year', 'years', 'day',
        'days', 'time', 'times', 'first', 'last', 'next', 'new', 'old', 'good', 'great', 'best',
        'better', 'bad', 'worse', 'worst', 'nice', 'fine', 'perfect', 'excellent', 'amazing',
        'awesome', 'fantastic', 'wonderful', 'terrible', 'awful', 'horrible', 'poor', 'cheap',
        'expensive', 'fast', 'slow', 'quick', 'quickly', 'late', 'early', 'easy', 'hard',
        'happy', 'unhappy', 'glad', 'sad', 'angry', 'disappointed', 'disappointing',
        'satisfied', 'impressed', 'recommend', 'recommended', 'highly', 'love', 'loved',
        'loves', 'like', 'liked', 'hate', 'hated', 'want', 'wanted', 'need', 'needed', 'buy',
        'bought', 'buying', 'order', 'ordered', 'ordering', 'orders', 'return', 'returned',
        'returning', 'returns', 'refund', 'refunded', 'exchange', 'send', 'sent', 'arrive',
        'arrived', 'arrives', 'deliver', 'delivered', 'delivery', 'shipping', 'shipped',
        'package', 'packaging', 'box', 'product', 'products', 'item', 'items', 'quality',
        'value', 'price', 'money', 'service', 'customer', 'support', 'size', 'fit', 'fits',
        'color', 'colour', 'works', 'worked', 'working', 'work', 'broken', 'broke', 'damaged',
        'missing', 'wrong', 'right', 'small', 'smaller', 'big', 'bigger', 'large', 'larger',
        'little', 'long', 'short', 'light', 'heavy', 'soft', 'strong', 'weak', 'free', 'gift',
        'present', 'kids', 'children', 'family', 'friend', 'friends', 'husband', 'wife', 'son',
        'daughter', 'mom', 'mum', 'dad', 'sister', 'brother', 'everything', 'something',
        'anything', 'someone', 'everyone', 'nobody', 'shop', 'store', 'seller', 'website',
        'site', 'online', 'app', 'email', 'phone', 'call', 'contact', 'question', 'answer',
        'problem', 'issue', 'issues', 'help', 'helpful', 'unhelpful', 'use', 'used', 'using',
        'look', 'looks', 'looked', 'feel', 'feels', 'felt', 'smell', 'smells', 'taste', 'tastes',
        'made', 'make', 'makes', 'get', 'got', 'give', 'gave', 'take', 'took', 'come', 'came',
        'go', 'went', 'gone', 'keep', 'kept', 'try', 'tried', 'think', 'thought', 'know', 'knew',
        'say', 'said', 'see', 'saw', 'seen', 'expected', 'described', 'advertised', 'listed',
        'write', 'wrote', 'writes', 'told', 'asked', 'gave', 'called', 'says', 'thinks',
        'exactly', 'definitely', 'absolutely', 'totally', 'completely', 'pretty', 'quite',
        'rather', 'enough', 'almost', 'overall', 'instead', 'otherwise', 'however', 'though',
        'although', 'while', 'since', 'until', 'once', 'twice', 'two', 'three', 'four', 'five',
        'stars', 'star', 'rating', 'review', 'note', 'update', 'edit', 'warning', 'beware',
        'avoid', 'waste', 'worth', 'worthless', 'useless', 'useful', 'sturdy', 'flimsy',
        'comfortable', 'beautiful', 'lovely', 'cute', 'pleased', 'thrilled', 'upset', 'sorry',
        'sure', 'unfortunately', 'luckily', 'sadly', 'honestly', 'seriously', 'literally',
        'tv', 'usb', 'hd', 'diy', 'faq', 'asap', 'fyi', 'lol', 'omg', 'eu', 'uk', 'usa',
        'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday',
        'january', 'february', 'march', 'september', 'october', 'november', 'december',
        'christmas', 'easter', 'english', 'american', 'british', 'european', 'french', 'german',
        'italian', 'spanish', 'chinese', 'japanese', 'indian', 'mexican'
    ]) }}
{%- endmacro %}

{% macro scrub_number_words_regex() -%}
    {#- Words used to spell out phone numbers and ids digit by digit. -#}
    {{ scrub_word_regex(['zero', 'oh', 'nil', 'one', 'two', 'three', 'four', 'five', 'six', 'seven',
                    'eight', 'nine', 'ten', 'double', 'triple', 'hundred', 'thousand']) }}
{%- endmacro %}

{% macro scrub_text(text, max_words, whole_sentences=false, keywords=false) -%}
    {#- Free text -> at most max_words lower-case ASCII words, or null. In order:
        1. cut to scrub_max_chars() characters at a word boundary, strip accents;
        2. drop URLs, e-mail addresses and domains, also obfuscated ones ("jane (at) example
           (dot) com", "jane at example dot com", "j a n e @ ...", "jane doe example com");
        3. drop runs of three or more numbers or spelled-out digits ("five five five zero");
        4. drop street addresses: the words around street / road / avenue / lane / st / rd ...,
           and around way / drive / place / ... after a house number;
        5. per word: drop words with digits, non-ASCII letters or over scrub_max_word_length()
           letters; person names: stop-listed first names and surnames (and the word after a
           first name or title unless allow-listed), capitalised words in mid-sentence unless
           allow-listed, a capitalised pair at a sentence start; runs of single letters.
        Then the first max_words surviving words are returned, or with whole_sentences the
        first sentences whose words fit max_words, joined by commas (the first sentence's first
        words when it alone is longer). A cut never ends on a function word ("with the"). -#}
    {%- set tlds = scrub_tld_regex() -%}
    {%- set removals = [
        '(?:https?://|www\\.)\\S*',
        '\\S*@\\S*',
        '\\S+\\.' ~ tlds ~ '\\b\\S*',
        '\\S+\\s+(?:com|net|org)\\b',
        '(?:(?:\\b' ~ scrub_number_words_regex() ~ '\\b|\\S*\\d\\S*)[\\s,.()+-]*){3,}',
        '(?:\\S+\\s+){0,2}\\b(?:street|st|road|rd|avenue|ave|lane|ln|boulevard|blvd|strasse'
            ~ '|str|rue|calle|via|highway|hwy)\\b[.,]?(?:\\s+[a-z]+)?',
        '\\S*\\d\\S*\\s+(?:\\S+\\s+){0,2}(?:way|drive|place|close|court|square|terrace'
            ~ '|crescent|park|row|hill|gardens|grove|walk|parkway|circle|plaza)\\b[.,]?'
            ~ '(?:\\s+[a-z]+)?',
        '\\b(?:apt|apartment|suite|unit|flat|box)\\b[.,#]*\\s*\\S*\\d\\S*',
        '[-_/|~*#=+]+'
    ] -%}
    {#- Obfuscated e-mails are first rewritten to plain ones ("jane (at) example (dot) com" ->
        "jane@example.com"), then one pass removes every PII pattern. -#}
    {%- set steps = [
        ('(?:https?://|www\\.)\\S*', ' '),
        ('[\\(\\[\\{<]\\s*(?:at|@)\\s*[\\)\\]\\}>]', ' @ '),
        ('\\s*[\\(\\[\\{<]\\s*(?:dot|\\.)\\s*[\\)\\]\\}>]\\s*|\\s+dot\\s+', '.'),
        ('\\s*\\.\\s*(' ~ tlds ~ ')\\b', '.\\1'),
        ('\\s+at\\s+(\\S+\\.' ~ tlds ~ '\\b)', ' \\1'),
        ('\\s*@\\s*', '@'),
        ('([.!?]+["\\)\\]]*)(?:\\s|$)', '\\1 ¦ '),
        (removals | join('|'), ' ')
    ] -%}
    {%- set ns = namespace(expr=
        "strip_accents(case when length(" ~ text ~ ") > " ~ scrub_max_chars()
        ~ " then regexp_replace(left(" ~ text ~ ", " ~ scrub_max_chars() ~ "), '\\S*$', '')"
        ~ " else " ~ text ~ " end)"
    ) -%}
    {%- for pattern, replacement in steps -%}
        {%- set ns.expr = "regexp_replace(" ~ ns.expr ~ ", '" ~ pattern ~ "', '"
            ~ replacement ~ "', 'gi')" -%}
    {%- endfor -%}
    {#- Sentences (marked with a broken bar after . ! ? before the PII removal, so a removed
        phone number does not merge two sentences), each a list of surviving words. -#}
    list_transform(
        [list_transform(
            string_split(regexp_replace({{ ns.expr }}, '\s+', ' ', 'g'), '¦'),
            lambda sentence: {{ scrub_sentence_words('sentence') }}
        )],
        lambda sentences: {{ scrub_assemble(
            'list_filter(sentences, lambda words: len(words) > 0)', max_words, whole_sentences,
            keywords
        ) }}
    )[1]
{%- endmacro %}

{% macro scrub_sentence_words(sentence) -%}
    {#- The surviving lower-case words of one sentence, as a list. -#}
    list_transform(
        [string_split(trim({{ sentence }}), ' ')],
        lambda tokens: list_transform(
            [list_transform(tokens, lambda token: {{ scrub_core('token') }})],
            lambda cores: list_transform(
                list_filter(
                    range(1, len(tokens) + 1),
                    lambda i: {{ scrub_keep('tokens', 'cores', 'i') }}
                ),
                lambda i: cores[i]
            )
        )[1]
    )[1]
{%- endmacro %}

{% macro scrub_assemble(sentences, max_words, whole_sentences, keywords) -%}
    {#- Words of the sentences (a list of word lists) as one string within max_words. -#}
    list_transform(
        [{{ sentences }}],
        lambda kept: nullif(
            {%- if whole_sentences %}
            case
                when len(kept) > 0 and len(kept[1]) > {{ max_words }}
                    then {{ scrub_trim_tail('kept[1][1:' ~ max_words ~ ']') }}
                else array_to_string(
                    list_filter(
                        list_transform(
                            list_filter(
                                range(1, len(kept) + 1),
                                lambda i: list_sum(
                                    list_transform(kept[1:i], lambda words: len(words))
                                ) <= {{ max_words }}
                            ),
                            lambda i: {{ scrub_trim_tail('kept[i]') }}
                        ),
                        lambda sentence: sentence != ''
                    ),
                    ', '
                )
            end
            {%- elif keywords %}
            array_to_string(list_filter(
                flatten(kept),
                lambda word: not regexp_full_match(word, '{{ scrub_function_words_regex() }}')
            )[1:{{ max_words }}], ' ')
            {%- else %}
            {{ scrub_trim_tail('flatten(kept)[1:' ~ max_words ~ ']') }}
            {%- endif %},
            ''
        )
    )[1]
{%- endmacro %}

{% macro scrub_trim_tail(words) -%}
    {#- A word list as a string, without trailing function words ("not happier with the"). -#}
    list_transform(
        [{{ words }}],
        lambda cut: array_to_string(
            cut[1:coalesce(list_max(list_filter(
                range(1, len(cut) + 1),
                lambda i: not regexp_full_match(cut[i], '{{ scrub_function_words_regex() }}')
            )), 0)],
            ' '
        )
    )[1]
{%- endmacro %}

{% macro scrub_function_words_regex() -%}
    {{ scrub_word_regex([
        'a', 'an', 'the', 'and', 'or', 'but', 'of', 'with', 'to', 'for', 'in', 'on', 'at', 'by',
        'from', 'as', 'my', 'your', 'our', 'their', 'his', 'her', 'its', 'this', 'that', 'these',
        'those', 'is', 'are', 'was', 'were', 'be', 'been', 'i', 'than', 'so', 'if', 'very',
        'about', 'into'
    ]) }}
{%- endmacro %}

{% macro scrub_core(token) -%}
    {#- The lower-case word inside a token ("(Great!" -> "great"), or '' when the token holds a
        digit, a non-ASCII letter or is too long. -#}
    case
        when regexp_matches({{ token }}, '\d') then ''
        else coalesce(nullif(regexp_extract(
            lower(regexp_replace({{ token }}, '^[^A-Za-z]+|[^A-Za-z]+$', '', 'g')),
            '^[a-z]{1,{{ scrub_max_word_length() }}}(?:''[a-z]{1,3})?$'
        ), ''), '')
    end
{%- endmacro %}

{% macro scrub_keep(tokens, cores, i) -%}
    {#- Whether word i of the token list survives the name and single-letter rules. -#}
    {%- set key = "replace(" ~ cores ~ "[" ~ i ~ "], '''', '')" -%}
    {%- set prev_key = "replace(coalesce(" ~ cores ~ "[" ~ i ~ " - 1], ''), '''', '')" -%}
    {%- set next_key = "replace(coalesce(" ~ cores ~ "[" ~ i ~ " + 1], ''), '''', '')" -%}
    {%- set capitalised = "regexp_matches(" ~ tokens ~ "[" ~ i ~ "], '^[^A-Za-z0-9]*[A-Z]')" -%}
    {%- set next_capitalised = "coalesce(regexp_matches(" ~ tokens ~ "[" ~ i
        ~ " + 1], '^[^A-Za-z0-9]*[A-Z]'), false)" -%}
    {%- set sentence_start = i ~ " = 1 or regexp_matches(" ~ tokens ~ "[" ~ i
        ~ " - 1], '[.!?:;][\"'')\\]]*$')" -%}
    {%- set allowed = "regexp_full_match(" ~ key ~ ", '" ~ scrub_allowed_words_regex() ~ "')" -%}
    {%- set name_word = "regexp_full_match(" ~ key ~ ", '" ~ scrub_first_names_regex() ~ "|"
        ~ scrub_surnames_regex() ~ "|" ~ scrub_titles_regex() ~ "')" -%}
    {%- set after_name = "regexp_full_match(" ~ prev_key ~ ", '" ~ scrub_first_names_regex() ~ "|"
        ~ scrub_titles_regex() ~ "')" -%}
    {{ cores }}[{{ i }}] != ''
    and not {{ name_word }}
    and (not {{ after_name }} or {{ allowed }})
    and (
        not {{ capitalised }}
        or {{ allowed }}
        or (({{ sentence_start }}) and not ({{ next_capitalised }} and not regexp_full_match(
            {{ next_key }}, '{{ scrub_allowed_words_regex() }}'
        )))
    )
    and not (
        length({{ cores }}[{{ i }}]) = 1
        and (
            coalesce(length({{ cores }}[{{ i }} - 1]), 0) = 1
            or coalesce(length({{ cores }}[{{ i }} + 1]), 0) = 1
        )
    )
{%- endmacro %}

{% macro product_words(name, max_words=3) -%}
    {#- Catalogue text (product names, categories) as its last max_words lower-case words (the
        head noun of an English name comes last: "Hardcover Science Fiction Novel" -> "science
        fiction novel"): no digits, sizes or pack counts ("Organic Milk 2L 6-pack" -> "organic
        milk"), no e-mails or URLs, no placeholder ("unnamed product", "uncategorised",
        "other"); null when nothing is left. -#}
    {#- A hyphenated compound ("heavy-duty") counts as one word and reads as two. -#}
    replace(nullif(array_to_string(
        list_filter(
            string_split(trim(regexp_replace(regexp_replace(regexp_replace(
                lower(strip_accents(left({{ name }}, 200))),
                '(?:https?://|www\.)\S*|\S*@\S*|\S*\d\S*', ' ', 'g'),
                '([a-z])-([a-z])', '\1_\2', 'g'),
                '[^a-z_ ]+', ' ', 'g')), ' '),
            lambda word: length(word) between 2 and {{ scrub_max_word_length() }}
            and not regexp_full_match(word, '{{ scrub_size_words_regex() }}')
            and not regexp_matches(word, '^_|_$')
        )[-{{ max_words }}:],
        ' '
    ), ''), '_', ' ')
{%- endmacro %}

{% macro scrub_size_words_regex() -%}
    {#- Units, pack counts and placeholders that say nothing about what a product is. -#}
    {{ scrub_word_regex([
        'pack', 'packs', 'pk', 'count', 'ct', 'ml', 'cl', 'ltr', 'litre', 'liter', 'litres',
        'liters', 'oz', 'fl', 'floz', 'kg', 'kgs', 'gr', 'gram', 'grams', 'lb', 'lbs', 'mg', 'cm',
        'mm', 'in', 'inch', 'inches', 'ft', 'ea', 'each', 'pcs', 'pc', 'piece', 'pieces', 'size',
        'sz', 'of', 'ozs', 'gal', 'qt', 'pt', 'dz', 'doz', 'ounce', 'ounces', 'gallon', 'gallons',
        'quart', 'pint', 'can', 'cans', 'car', 'ctn', 'btl', 'cn', 'pkg', 'unnamed', 'uncategorised', 'uncategorized', 'unknown', 'other', 'misc',
        'miscellaneous', 'none', 'null', 'na', 'tbd', 'product', 'products', 'item', 'items', 'sku'
    ]) }}
{%- endmacro %}
