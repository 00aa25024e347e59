// A block wider than the page's column scrolls sideways inside its own box: a code listing or a
// table on a phone, a diagram or a chart kept at a legible size. A reader cannot see that it
// scrolls, so each such block gets a cue: wide.css shades its right edge (and says "scroll")
// while more of it lies to the right. book/check-layout counts a scrolling block without the
// cue as a problem.
(() => {
    // `host` shows the cue; `scroller` is the box that scrolls. A host is `position: relative`,
    // so the cue (its ::after) stays at its right edge while the content scrolls under it.
    const updates = [];
    const watch = (host, scroller) => {
        const update = () => {
            const scrolls = scroller.scrollWidth > scroller.clientWidth + 1;
            const atEnd = scroller.scrollLeft + scroller.clientWidth >= scroller.scrollWidth - 1;
            host.classList.toggle('scrolls', scrolls);
            host.classList.toggle('scrolled-to-end', scrolls && atEnd);
        };
        scroller.addEventListener('scroll', update, { passive: true });
        new ResizeObserver(update).observe(scroller);
        updates.push(update);
        update();
    };
    // The widths change with the window, and a diagram's when Mermaid has drawn it (after this
    // script ran): mermaid-init.js calls this then.
    window.updateScrollCues = () => updates.forEach((update) => update());
    window.addEventListener('resize', window.updateScrollCues);
    // A table, a diagram or a chart scrolls inside a new box that is the host too.
    const boxed = (el) => {
        const box = document.createElement('div');
        box.className = 'scroll-cue';
        el.replaceWith(box);
        box.appendChild(el);
        return box;
    };
    const main = document.querySelector('main');
    if (!main) return;
    // Code scrolls inside its <code>; the <pre> around it (already `position: relative` for
    // mdBook's buttons) shows the cue.
    for (const code of main.querySelectorAll('pre > code')) watch(code.parentElement, code);
    for (const table of main.querySelectorAll('.table-wrapper')) watch(boxed(table), table);
    for (const diagram of main.querySelectorAll('pre.mermaid')) watch(boxed(diagram), diagram);
    // A chart (an SVG image) scrolls inside a box of its own, inside the host.
    for (const chart of main.querySelectorAll('img[src$=".svg"]')) {
        const scroller = document.createElement('div');
        scroller.className = 'chart';
        chart.replaceWith(scroller);
        scroller.appendChild(chart);
        watch(boxed(scroller), scroller);
    }
    window.addEventListener('load', window.updateScrollCues);
})();
