/** The panel's default words for the options an owner may set; the loader carries none of them. */
export const defaults = {
  title: 'Chat with us',
  welcome: 'Hi! How can I help you today?',
  placeholder: 'Type your message…',
}
