// Render every $...$ and $$...$$ on each page, also after Material's instant navigation.
document$.subscribe(({ body }) => renderMathInElement(body, {
  throwOnError: false,
  delimiters: [
    { left: "$$", right: "$$", display: true },
    { left: "$", right: "$", display: false },
    { left: "\\(", right: "\\)", display: false },
    { left: "\\[", right: "\\]", display: true },
  ],
}));
