// UI strings in English, Dutch, German, French and Spanish.

export const STRINGS = {
  en: {
    open: 'Open chat', close: 'Close chat', title: 'Chat with us', placeholder: 'Type your message…',
    send: 'Send', thinking: 'Thinking…', typing: 'An agent is typing…', escalated: 'Connecting you to a person…',
    end: 'End chat', rateTitle: 'How did we do?', rateStars: 'stars', feedback: 'Anything to add? (optional)',
    submit: 'Send rating', thanks: 'Thank you for your feedback!', newChat: 'Start a new conversation',
    helpful: 'Helpful', notHelpful: 'Not helpful', sources: 'Sources', error: 'Something went wrong. Please try again.',
    offline: 'Reconnecting…', messages: 'Messages', unread: 'unread messages', closed: 'This conversation has ended.',
    you: 'You', assistant: 'Assistant', agent: 'Agent', channels: 'Other ways to reach us', chatHere: 'Chat here',
    history: 'Conversations', back: 'Back', gone: 'This conversation is no longer available.',
    rateTags: 'What stood out?', tagQuick: 'Quick', tagHelpful: 'Helpful', tagFriendly: 'Friendly', tagSlow: 'Slow', tagUnclear: 'Unclear',
    continue: 'Continue this conversation', resolved: 'This conversation was resolved. Write to continue it.',
  },
  nl: {
    open: 'Chat openen', close: 'Chat sluiten', title: 'Chat met ons', placeholder: 'Typ je bericht…',
    send: 'Versturen', thinking: 'Even denken…', typing: 'Een medewerker typt…', escalated: 'We verbinden je met een medewerker…',
    end: 'Chat beëindigen', rateTitle: 'Hoe hebben we het gedaan?', rateStars: 'sterren', feedback: 'Nog iets toe te voegen? (optioneel)',
    submit: 'Beoordeling versturen', thanks: 'Bedankt voor je feedback!', newChat: 'Nieuw gesprek beginnen',
    helpful: 'Nuttig', notHelpful: 'Niet nuttig', sources: 'Bronnen', error: 'Er ging iets mis. Probeer het opnieuw.',
    offline: 'Opnieuw verbinden…', messages: 'Berichten', unread: 'ongelezen berichten', closed: 'Dit gesprek is beëindigd.',
    you: 'Jij', assistant: 'Assistent', agent: 'Medewerker', channels: 'Andere manieren om ons te bereiken', chatHere: 'Hier chatten',
    history: 'Gesprekken', back: 'Terug', gone: 'Dit gesprek is niet meer beschikbaar.',
    rateTags: 'Wat viel op?', tagQuick: 'Snel', tagHelpful: 'Behulpzaam', tagFriendly: 'Vriendelijk', tagSlow: 'Traag', tagUnclear: 'Onduidelijk',
    continue: 'Dit gesprek voortzetten', resolved: 'Dit gesprek is afgerond. Schrijf om het voort te zetten.',
  },
  de: {
    open: 'Chat öffnen', close: 'Chat schließen', title: 'Chatten Sie mit uns', placeholder: 'Nachricht eingeben…',
    send: 'Senden', thinking: 'Einen Moment…', typing: 'Ein Mitarbeiter schreibt…', escalated: 'Wir verbinden Sie mit einem Mitarbeiter…',
    end: 'Chat beenden', rateTitle: 'Wie war unser Service?', rateStars: 'Sterne', feedback: 'Noch etwas hinzuzufügen? (optional)',
    submit: 'Bewertung senden', thanks: 'Danke für Ihr Feedback!', newChat: 'Neues Gespräch beginnen',
    helpful: 'Hilfreich', notHelpful: 'Nicht hilfreich', sources: 'Quellen', error: 'Etwas ist schiefgelaufen. Bitte erneut versuchen.',
    offline: 'Verbindung wird wiederhergestellt…', messages: 'Nachrichten', unread: 'ungelesene Nachrichten', closed: 'Dieses Gespräch ist beendet.',
    you: 'Sie', assistant: 'Assistent', agent: 'Mitarbeiter', channels: 'Weitere Kontaktwege', chatHere: 'Hier chatten',
    history: 'Gespräche', back: 'Zurück', gone: 'Dieses Gespräch ist nicht mehr verfügbar.',
    rateTags: 'Was ist aufgefallen?', tagQuick: 'Schnell', tagHelpful: 'Hilfreich', tagFriendly: 'Freundlich', tagSlow: 'Langsam', tagUnclear: 'Unklar',
    continue: 'Dieses Gespräch fortsetzen', resolved: 'Dieses Gespräch wurde gelöst. Schreiben Sie, um es fortzusetzen.',
  },
  fr: {
    open: 'Ouvrir le chat', close: 'Fermer le chat', title: 'Discutez avec nous', placeholder: 'Écrivez votre message…',
    send: 'Envoyer', thinking: 'Réflexion…', typing: 'Un conseiller écrit…', escalated: 'Nous vous mettons en relation avec un conseiller…',
    end: 'Terminer le chat', rateTitle: 'Comment était notre aide ?', rateStars: 'étoiles', feedback: 'Un commentaire ? (facultatif)',
    submit: 'Envoyer la note', thanks: 'Merci pour votre avis !', newChat: 'Nouvelle conversation',
    helpful: 'Utile', notHelpful: 'Pas utile', sources: 'Sources', error: 'Une erreur est survenue. Veuillez réessayer.',
    offline: 'Reconnexion…', messages: 'Messages', unread: 'messages non lus', closed: 'Cette conversation est terminée.',
    you: 'Vous', assistant: 'Assistant', agent: 'Conseiller', channels: 'Autres moyens de nous joindre', chatHere: 'Discuter ici',
    history: 'Conversations', back: 'Retour', gone: "Cette conversation n'est plus disponible.",
    rateTags: "Qu'avez-vous remarqué ?", tagQuick: 'Rapide', tagHelpful: 'Utile', tagFriendly: 'Aimable', tagSlow: 'Lent', tagUnclear: 'Pas clair',
    continue: 'Reprendre cette conversation', resolved: 'Cette conversation a été résolue. Écrivez pour la reprendre.',
  },
  es: {
    open: 'Abrir chat', close: 'Cerrar chat', title: 'Chatea con nosotros', placeholder: 'Escribe tu mensaje…',
    send: 'Enviar', thinking: 'Pensando…', typing: 'Un agente está escribiendo…', escalated: 'Te estamos conectando con una persona…',
    end: 'Terminar chat', rateTitle: '¿Qué tal lo hicimos?', rateStars: 'estrellas', feedback: '¿Algo que añadir? (opcional)',
    submit: 'Enviar valoración', thanks: '¡Gracias por tu opinión!', newChat: 'Empezar una nueva conversación',
    helpful: 'Útil', notHelpful: 'No útil', sources: 'Fuentes', error: 'Algo salió mal. Inténtalo de nuevo.',
    offline: 'Reconectando…', messages: 'Mensajes', unread: 'mensajes sin leer', closed: 'Esta conversación ha terminado.',
    you: 'Tú', assistant: 'Asistente', agent: 'Agente', channels: 'Otras formas de contactarnos', chatHere: 'Chatear aquí',
    history: 'Conversaciones', back: 'Volver', gone: 'Esta conversación ya no está disponible.',
    rateTags: '¿Qué destacarías?', tagQuick: 'Rápido', tagHelpful: 'Útil', tagFriendly: 'Amable', tagSlow: 'Lento', tagUnclear: 'Poco claro',
    continue: 'Continuar esta conversación', resolved: 'Esta conversación se resolvió. Escribe para continuarla.',
  },
} as const;

export type Locale = keyof typeof STRINGS;
export const LOCALES = ['en', 'nl', 'de', 'fr', 'es'] as const;
export type Strings = { [K in keyof (typeof STRINGS)['en']]: string };

/** The first supported language among: the snippet's `locale`, the browser's, the site's; else English. */
export function pickLocale(...candidates: Array<string | readonly string[] | undefined | null>): Locale {
  for (const c of candidates.flat()) {
    if (!c) continue;
    const base = c.toLowerCase().split(/[-_]/)[0];
    if ((LOCALES as readonly string[]).includes(base)) return base as Locale;
  }
  return 'en';
}

export const strings = (locale: Locale): Strings => STRINGS[locale];

/** The few labels the loader needs (kept apart so the loader does not carry every string). */
export const LAUNCHER: Record<Locale, { open: string; close: string; unread: string; dismiss: string }> = {
  en: { open: 'Open chat', close: 'Close chat', unread: 'unread messages', dismiss: 'Dismiss' },
  nl: { open: 'Chat openen', close: 'Chat sluiten', unread: 'ongelezen berichten', dismiss: 'Sluiten' },
  de: { open: 'Chat öffnen', close: 'Chat schließen', unread: 'ungelesene Nachrichten', dismiss: 'Ausblenden' },
  fr: { open: 'Ouvrir le chat', close: 'Fermer le chat', unread: 'messages non lus', dismiss: 'Ignorer' },
  es: { open: 'Abrir chat', close: 'Cerrar chat', unread: 'mensajes sin leer', dismiss: 'Descartar' },
};
