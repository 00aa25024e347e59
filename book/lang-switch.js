// A link in the menu bar to the same page in the other edition: the English book is built into
// book/book/, the Chinese one into book/book/zh-CN/ (same file names), so the other edition's page
// is this page's path with `zh-CN/` added after the book's root, or taken away.
(function () {
    const buttons = document.querySelector('.right-buttons');
    if (!buttons || typeof path_to_root === 'undefined') {
        return;
    }
    const root = new URL(path_to_root || './', location.href);
    const page = location.href.slice(root.href.length).split('#')[0].split('?')[0] || 'index.html';
    const chinese = /^zh/i.test(document.documentElement.lang);
    const link = document.createElement('a');
    link.className = 'lang-switch';
    if (chinese) {
        link.href = new URL('../' + page, root).href;
        link.textContent = 'English';
        link.lang = 'en';
        link.title = 'Read this page in English';
    } else {
        link.href = new URL('zh-CN/' + page, root).href;
        link.textContent = '中文';
        link.lang = 'zh-CN';
        link.title = '阅读本页的中文版';
    }
    link.setAttribute('aria-label', link.title);
    buttons.prepend(link);
})();
