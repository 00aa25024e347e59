// This Source Code Form is subject to the terms of the Mozilla Public
// License, v. 2.0. If a copy of the MPL was not distributed with this
// file, You can obtain one at https://mozilla.org/MPL/2.0/.
// (mdbook-mermaid's file, changed here: the diagrams are drawn by mermaid.run() and keep a
// legible size on a phone.)

(() => {
    const darkThemes = ['ayu', 'navy', 'coal'];
    const lightThemes = ['light', 'rust'];

    const classList = document.getElementsByTagName('html')[0].classList;

    let lastThemeWasLight = true;
    for (const cssClass of classList) {
        if (darkThemes.includes(cssClass)) {
            lastThemeWasLight = false;
            break;
        }
    }

    const theme = lastThemeWasLight ? 'default' : 'dark';
    mermaid.initialize({ startOnLoad: false, theme });

    // A diagram shrinks to the column's width; on a phone that makes its text a few pixels
    // high. So there each diagram keeps at least the width at which its smallest text is
    // LEGIBLE px high, and scrolls sideways inside its block below that width (scroll-cue.js shows that it
    // does). `window.mermaidRendered` lets book/check-layout wait for the drawing to finish.
    const LEGIBLE = 12;
    const keepLegible = () => {
        for (const svg of document.querySelectorAll('pre.mermaid svg')) {
            const natural = svg.viewBox.baseVal && svg.viewBox.baseVal.width;
            const sizes = [...svg.querySelectorAll('text, foreignObject div')]
                .map((t) => parseFloat(getComputedStyle(t).fontSize))
                .filter((px) => px > 0);
            if (!natural || sizes.length === 0) continue;
            const smallest = Math.min(...sizes);
            // wide.css applies it on a phone; a laptop's column shows every diagram legibly.
            svg.style.setProperty('--legible-width', Math.ceil((natural * LEGIBLE) / smallest) + 'px');
        }
    };
    window.mermaidRendered = mermaid
        .run()
        .catch(() => {}) // a diagram that does not parse shows Mermaid's error in its place
        .then(keepLegible)
        .then(() => window.updateScrollCues && window.updateScrollCues());

    // Simplest way to make mermaid re-render the diagrams in the new theme is via refreshing the page

    for (const darkTheme of darkThemes) {
        document.getElementById('mdbook-theme-' + darkTheme).addEventListener('click', () => {
            if (lastThemeWasLight) {
                window.location.reload();
            }
        });
    }

    for (const lightTheme of lightThemes) {
        document.getElementById('mdbook-theme-' + lightTheme).addEventListener('click', () => {
            if (!lastThemeWasLight) {
                window.location.reload();
            }
        });
    }
})();
