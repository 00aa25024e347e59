// Search that finds Chinese words. mdBook's index splits text into words at spaces and hyphens,
// and its pipeline trims every character that is not an ASCII letter or digit from a word's ends:
// a Chinese sentence becomes one word, or nothing, so 字节序 finds no page (mdBook issue #1081).
// On a page of the Chinese edition (<html lang="zh-CN">) this rebuilds the index in the browser,
// once, from the documents mdBook stored in it (title, body, breadcrumbs of every section), with
// Chinese split into overlapping pairs of characters (字节序 → 字节, 节序) and no English-only
// pipeline. A query is split the same way, so 字节序 finds the sections that hold 字节 and 节序.
(function () {
    if (!/^zh/i.test(document.documentElement.lang) || typeof elasticlunr === 'undefined') {
        return;
    }
    const HAN = /[\u3400-\u9fff\uf900-\ufaff]/;
    const RUNS = /[\u3400-\u9fff\uf900-\ufaff]+|[^\s\u3400-\u9fff\uf900-\ufaff]+/g;

    function tokens(text) {
        const out = [];
        for (const word of String(text).toLowerCase().split(/[\s\-]+/)) {
            for (const run of word.match(RUNS) || []) {
                if (!HAN.test(run) || run.length === 1) {
                    // An English word keeps mdBook's trimming of punctuation at its ends.
                    const trimmed = HAN.test(run) ? run : run.replace(/^\W+|\W+$/g, '');
                    if (trimmed) {
                        out.push(trimmed);
                    }
                    continue;
                }
                for (let i = 0; i + 1 < run.length; i++) {
                    out.push(run.slice(i, i + 2));
                }
            }
        }
        return out;
    }

    elasticlunr.tokenizer = function (value) {
        if (value === null || value === undefined) {
            return [];
        }
        return Array.isArray(value) ? value.flatMap(tokens) : tokens(value);
    };

    const load = elasticlunr.Index.load;
    elasticlunr.Index.load = function (serialized) {
        const stored = load.call(this, serialized);
        const index = new elasticlunr.Index();
        index.setRef(stored._ref);
        stored._fields.forEach(field => index.addField(field));
        index.saveDocument(true);
        const docs = stored.documentStore.docs;
        for (const ref of Object.keys(docs)) {
            index.addDoc(Object.assign({}, docs[ref], {[stored._ref]: ref}), false);
        }
        // Pairs of characters may be found apart (套接字类型: 套接, 接字, 字类, 类型): sections that
        // hold the query as written come first, in the index's order.
        const search = index.search.bind(index);
        index.search = function (query, options) {
            const phrase = String(query).trim().toLowerCase();
            const holds = result => {
                const doc = docs[result.ref] || {};
                const text = [doc.title, doc.body, doc.breadcrumbs].join(' ').toLowerCase();
                return text.includes(phrase) ? 0 : 1;
            };
            return search(query, options)
                .map((result, rank) => [holds(result), rank, result])
                .sort((a, b) => a[0] - b[0] || a[1] - b[1])
                .map(([, , result]) => result);
        };
        return index;
    };
})();
