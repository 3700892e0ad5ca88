/** Stroke icons on a 24-unit grid (path data), shared by the loader's launcher and the panel. */
export const chat = 'M4 5h16v11H9l-5 4z'
export const close = 'M6 6l12 12M18 6L6 18'
export const send = 'M5 12h13M13 6l6 6-6 6'
export const stop = 'M7 7h10v10H7z'
export const restart = 'M4 12a8 8 0 1 0 3-6.2M4 4v4h4'
